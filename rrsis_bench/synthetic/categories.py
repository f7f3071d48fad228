"""What synthetic scenes are made of: colours, object archetypes and each layout's categories.

An *archetype* says how a kind of object looks (shape, size, colours, surface pattern, how many
appear and whether they cluster); a *category* is a name as one release writes it (RRSIS-D's
``storagetank``, NWPU-Refer's ``storage tank``, RISBench's ``storage tank``) bound to an archetype
and to the words a referring expression uses for it (English singular and plural, Chinese).

The category lists follow the releases (see ``research/datasets.md``): the 20 DIOR names of
RRSIS-D with ids 0..19, the 32 NWPU-Refer names plus ``no target`` (spellings ``photovolatic`` and
``airplaneroad`` kept), the 14-word RefSegRS lexicon and the 26 RISBench names listed by
``KyanChen/RSRefSeg2`` (``refseg/datasets/refdataset.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from rrsis_bench.builders.refsegrs import LEXICON as REFSEGRS_BUILDER_LEXICON

COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (228, 228, 222),
    "gray": (132, 132, 128),
    "black": (42, 42, 46),
    "red": (172, 48, 40),
    "blue": (52, 86, 168),
    "green": (66, 132, 62),
    "yellow": (214, 184, 58),
    "orange": (212, 124, 44),
    "brown": (128, 92, 58),
}
"""Named colours objects are painted with (a colour word in an expression names one of these)."""

COLOURS_ZH: dict[str, str] = {
    "white": "白色",
    "gray": "灰色",
    "black": "黑色",
    "red": "红色",
    "blue": "蓝色",
    "green": "绿色",
    "yellow": "黄色",
    "orange": "橙色",
    "brown": "棕色",
}

Shape = str
"""One of ``rect``, ``ellipse``, ``stadium``, ``ship``, ``airplane``, ``plus``, ``rotor``,
``sector``, ``blob``, ``band``, ``edge`` (see :mod:`rrsis_bench.synthetic.geometry`)."""


@dataclass(frozen=True)
class Archetype:
    """How one kind of object looks.

    Attributes:
        shape: Polygon generator name.
        length: Long side as a fraction of the image side, ``(low, high)``.
        aspect: Short side / long side, ``(low, high)``.
        palette: Colour names, most frequent first.
        pattern: Surface detail painted inside the mask (never changes the mask).
        count: Instances when the category is in a scene, ``(low, high)`` inclusive.
        cluster: Instances stand in a row with one orientation (parking rows, tank farms).
        oriented: Orientation (horizontal, vertical, diagonal) is a visible attribute.
        sized: Instances come in two sizes (small, large) that expressions may name.
        stuff: An area rather than a countable thing (lake, grass): one instance, no attributes.
        background: Painted before objects (roads, water, land cover); objects may not
            overlap it when it is referable.
    """

    shape: Shape
    length: tuple[float, float]
    aspect: tuple[float, float]
    palette: tuple[str, ...]
    pattern: str | None = None
    count: tuple[int, int] = (1, 3)
    cluster: bool = False
    oriented: bool = True
    sized: bool = True
    stuff: bool = False
    background: bool = False


_ARCHETYPE_TABLE = """
# name            shape     length       aspect     count  pattern     traits                       palette
car               rect      0.030-0.040  0.45-0.52  2-6    windshield  cluster                      white black red blue gray
van               rect      0.042-0.050  0.42-0.48  1-3    windshield  cluster                      white gray blue
truck             rect      0.065-0.085  0.32-0.38  1-3    cab         -                            white red blue yellow
bus               rect      0.075-0.095  0.28-0.32  1-2    ridge       -                            yellow white red
trailer           rect      0.085-0.105  0.26-0.30  1-2    -           -                            gray white
digger            rect      0.035-0.050  0.48-0.55  1-3    cab         -                            yellow orange
train             rect      0.280-0.400  0.06-0.08  1-1    rails       -                            gray white red
helicopter        plus      0.045-0.060  0.20-0.24  1-2    -           -                            gray white green
airplane          airplane  0.100-0.150  0.85-1.00  1-3    -           -                            white gray
ship              ship      0.080-0.140  0.22-0.30  1-4    ridge       -                            white gray red blue
building          rect      0.080-0.150  0.50-0.90  1-4    ridge       -                            gray white red brown blue
storage_tank      ellipse   0.050-0.085  1.00-1.00  2-6    tank        cluster,round                white gray
chimney           ellipse   0.020-0.028  1.00-1.00  1-3    tank        round                        gray red white
windmill          rotor     0.060-0.090  0.10-0.12  1-4    -           cluster,round                white
pylon             plus      0.022-0.030  0.30-0.34  1-3    -           cluster,round                gray
crane             plus      0.090-0.120  0.10-0.14  1-2    -           -                            yellow red
container         rect      0.036-0.048  0.34-0.40  3-8    -           cluster                      red blue orange green white
solar             rect      0.090-0.150  0.50-0.80  1-3    stripes     cluster,one-size             blue black
station           rect      0.280-0.400  0.22-0.30  1-1    rails       one-size                     gray white
service_area      rect      0.300-0.420  0.45-0.60  1-1    parking     one-size                     gray
toll_station      rect      0.140-0.200  0.25-0.32  1-1    stripes     one-size                     gray white
parking           rect      0.140-0.220  0.50-0.70  1-2    parking     one-size                     gray
harbor            rect      0.280-0.400  0.20-0.30  1-1    stripes     one-size                     gray
airport           rect      0.500-0.650  0.30-0.40  1-1    dashes      one-size                     gray
helipad           ellipse   0.050-0.070  1.00-1.00  1-2    helipad     round                        gray green
roundabout        ellipse   0.120-0.180  1.00-1.00  1-1    ring        round,one-size               gray
intersection      plus      0.200-0.280  0.22-0.26  1-1    dashes      round,one-size               gray
tennis_court      rect      0.070-0.085  0.46-0.50  1-3    court       cluster                      green blue red
basketball_court  rect      0.060-0.075  0.52-0.56  1-3    court       cluster                      blue orange green
badminton_court   rect      0.036-0.044  0.44-0.48  1-4    court       cluster                      green blue
football_field    rect      0.160-0.220  0.62-0.68  1-2    court       -                            green
rugby_field       rect      0.160-0.220  0.52-0.58  1-1    court       -                            green
baseball_field    sector    0.120-0.180  1.00-1.00  1-2    diamond     -                            green
track_field       stadium   0.220-0.300  0.50-0.56  1-1    track       -                            red brown
stadium           ellipse   0.240-0.320  0.72-0.80  1-1    field       one-size                     gray white
pool              rect      0.045-0.075  0.45-0.60  1-3    rim         -                            blue
golf_field        blob      0.350-0.500  0.60-0.85  1-1    bunkers     round,one-size,stuff         green
bridge            band      0.300-0.450  0.07-0.09  1-1    dashes      one-size                     gray white
overpass          band      0.400-0.600  0.06-0.08  1-1    dashes      one-size                     gray
dam               band      0.350-0.550  0.08-0.10  1-1    -           one-size                     gray white
runway            band      0.700-0.950  0.05-0.06  1-1    dashes      one-size                     gray
road              edge      0.035-0.050  1.00-1.00  1-2    dashes      one-size,ground              gray
sidewalk          edge      0.012-0.016  1.00-1.00  1-1    -           one-size,ground              white
bikeway           edge      0.012-0.016  1.00-1.00  1-1    -           one-size,ground              red
river             edge      0.070-0.100  1.00-1.00  1-1    water       one-size,stuff,ground        blue
lake              blob      0.250-0.380  0.60-0.90  1-1    water       round,one-size,stuff,ground  blue
ocean             blob      0.550-0.700  0.90-1.00  1-1    water       round,one-size,stuff,ground  blue
grass             blob      0.220-0.350  0.60-0.90  1-1    -           round,one-size,stuff,ground  green
land              blob      0.220-0.350  0.60-0.90  1-1    -           round,one-size,stuff,ground  brown
low_vegetation    blob      0.180-0.300  0.60-0.90  1-1    -           round,one-size,stuff,ground  green
impervious        blob      0.200-0.320  0.60-0.90  1-1    -           round,one-size,stuff,ground  gray
tree              ellipse   0.035-0.060  0.85-1.00  3-9    canopy      cluster,round                green
road_marking      rect      0.035-0.050  0.12-0.16  2-5    -           cluster,round,one-size       white
"""
# length: long side as a fraction of the image side; aspect: short / long side; count: instances
# when the category is in a scene; traits: cluster (instances in a row), round (no orientation),
# one-size (no small / large), stuff (an area), ground (painted before objects).


def _parse_archetypes(table: str) -> dict[str, Archetype]:
    out: dict[str, Archetype] = {}
    for line in table.strip().splitlines():
        if line.startswith("#"):
            continue
        name, shape, length, aspect, count, pattern, traits, *palette = line.split()
        flags = set(traits.split(","))
        lo, hi = (float(v) for v in length.split("-"))
        a_lo, a_hi = (float(v) for v in aspect.split("-"))
        c_lo, c_hi = (int(v) for v in count.split("-"))
        out[name] = Archetype(
            shape=shape,
            length=(lo, hi),
            aspect=(a_lo, a_hi),
            palette=tuple(palette),
            pattern=None if pattern == "-" else pattern,
            count=(c_lo, c_hi),
            cluster="cluster" in flags,
            oriented="round" not in flags,
            sized="one-size" not in flags,
            stuff="stuff" in flags,
            background="ground" in flags,
        )
    return out


ARCHETYPES: dict[str, Archetype] = _parse_archetypes(_ARCHETYPE_TABLE)
"""Every archetype a layout can bind a category to."""


@dataclass(frozen=True)
class Category:
    """A category as one release names it, bound to an archetype and to words.

    Attributes:
        name: The name as the release writes it (annotation files, lexicon).
        archetype: Key of :data:`ARCHETYPES`.
        en: English singular used in expressions.
        en_plural: English plural.
        zh: Chinese word (NWPU-Refer only).
        weight: How often scenes include the category.
        hypernyms: Wider words that also name it in RefSegRS style (``vehicle`` for ``car``).
    """

    name: str
    archetype: str
    en: str
    en_plural: str
    zh: str = ""
    weight: float = 1.0
    hypernyms: tuple[str, ...] = ()

    @property
    def look(self) -> Archetype:
        """The archetype this category is drawn with."""
        return ARCHETYPES[self.archetype]


def _c(
    name: str,
    archetype: str,
    en: str | None = None,
    plural: str | None = None,
    zh: str = "",
    weight: float = 1.0,
    hypernyms: tuple[str, ...] = (),
) -> Category:
    word = en if en is not None else name
    return Category(name, archetype, word, plural or word + "s", zh, weight, hypernyms)


RRSISD_CATEGORIES: tuple[Category, ...] = (
    _c("Expressway-Service-area", "service_area", "expressway service area", weight=0.4),
    _c("Expressway-toll-station", "toll_station", "expressway toll station", weight=0.4),
    _c("airplane", "airplane", weight=1.0),
    _c("airport", "airport", weight=0.3),
    _c("baseballfield", "baseball_field", "baseball field", weight=0.8),
    _c("basketballcourt", "basketball_court", "basketball court", weight=0.8),
    _c("bridge", "bridge", weight=0.6),
    _c("chimney", "chimney", weight=0.6),
    _c("dam", "dam", weight=0.4),
    _c("golffield", "golf_field", "golf field", weight=0.4),
    _c("groundtrackfield", "track_field", "ground track field", weight=0.7),
    _c("harbor", "harbor", weight=0.4),
    _c("overpass", "overpass", "overpass", "overpasses", weight=0.5),
    _c("ship", "ship", weight=1.0),
    _c("stadium", "stadium", "stadium", weight=0.4),
    _c("storagetank", "storage_tank", "storage tank", weight=1.0),
    _c("tenniscourt", "tennis_court", "tennis court", weight=1.0),
    _c("trainstation", "station", "train station", weight=0.3),
    _c("vehicle", "car", weight=1.5),
    _c("windmill", "windmill", weight=0.6),
)
"""RRSIS-D: the 20 DIOR names in id order (``categories[i]["id"] == i``)."""

NWPU_NO_TARGET = "no target"

NWPU_CATEGORIES: tuple[Category, ...] = (
    _c("car", "car", zh="汽车", weight=1.6),
    _c("ship", "ship", zh="船", weight=1.0),
    _c("photovolatic", "solar", "photovoltaic panel", zh="光伏板", weight=0.6),
    _c("building", "building", zh="建筑", weight=1.4),
    _c("airplane", "airplane", zh="飞机", weight=0.8),
    _c("road", "road", zh="道路", weight=0.9),
    _c("bridge", "bridge", zh="桥梁", weight=0.5),
    _c("basketball court", "basketball_court", zh="篮球场", weight=0.7),
    _c("container", "container", zh="集装箱", weight=0.6),
    _c("train", "train", zh="火车", weight=0.3),
    _c("pool", "pool", zh="游泳池", weight=0.6),
    _c("storage tank", "storage_tank", zh="储油罐", weight=0.9),
    _c("tennis court", "tennis_court", zh="网球场", weight=0.8),
    _c("ground track field", "track_field", zh="田径场", weight=0.5),
    _c("football court", "football_field", zh="足球场", weight=0.5),
    _c("pylon", "pylon", zh="电塔", weight=0.4),
    _c("digger", "digger", zh="挖掘机", weight=0.4),
    _c("wind turbine", "windmill", zh="风力发电机", weight=0.4),
    _c("construction tower", "crane", zh="塔吊", weight=0.3),
    _c("road intersection", "intersection", zh="十字路口", weight=0.3),
    _c("parking", "parking", "parking lot", zh="停车场", weight=0.5),
    _c("baseball court", "baseball_field", zh="棒球场", weight=0.4),
    _c("river", "river", zh="河流", weight=0.4),
    _c("chimney", "chimney", zh="烟囱", weight=0.3),
    _c("airplaneroad", "runway", "runway", zh="跑道", weight=0.3),
    _c("ocean", "ocean", zh="海洋", weight=0.2),
    _c("land", "land", "bare land", "bare land", zh="空地", weight=0.4),
    _c("rugby court", "rugby_field", zh="橄榄球场", weight=0.2),
    _c("lake", "lake", zh="湖泊", weight=0.4),
    _c("grass", "grass", "grassland", "grassland", zh="草地", weight=0.5),
    _c("badminton court", "badminton_court", zh="羽毛球场", weight=0.3),
    _c("dam", "dam", zh="大坝", weight=0.2),
)
"""NWPU-Refer: the 32 object categories (``no target`` is added by the writer)."""

REFSEGRS_CATEGORIES: tuple[Category, ...] = (
    _c("road", "road", weight=1.5),
    _c("car", "car", weight=1.6, hypernyms=("vehicle", "light-duty vehicle")),
    _c("van", "van", weight=0.6, hypernyms=("vehicle", "light-duty vehicle")),
    _c("truck", "truck", weight=0.5, hypernyms=("vehicle", "heavy-duty vehicle")),
    _c("trailer", "trailer", weight=0.3, hypernyms=("vehicle", "heavy-duty vehicle")),
    _c("bus", "bus", "bus", "buses", weight=0.3, hypernyms=("vehicle", "heavy-duty vehicle")),
    _c("building", "building", weight=1.2),
    _c("road marking", "road_marking", weight=0.6),
    _c("bikeway", "bikeway", weight=0.3),
    _c("sidewalk", "sidewalk", weight=0.6),
    _c("tree", "tree", weight=1.0),
    _c("low vegetation", "low_vegetation", "low vegetation", "low vegetation", weight=0.7),
    _c("impervious surface", "impervious", "impervious surface", "impervious surface", weight=0.6),
)
"""RefSegRS: the lexicon words that are drawn as objects (``vehicle`` is a hypernym)."""

REFSEGRS_LEXICON: tuple[str, ...] = REFSEGRS_BUILDER_LEXICON
"""The 14 RefSegRS target words every downstream loader uses (the builder's lexicon)."""

RISBENCH_CATEGORIES: tuple[Category, ...] = (
    _c("expressway service area", "service_area", weight=0.3),
    _c("expressway toll station", "toll_station", weight=0.3),
    _c("ground track field", "track_field", weight=0.5),
    _c("basketball court", "basketball_court", weight=0.7),
    _c("container crane", "crane", weight=0.3),
    _c("roundabout", "roundabout", weight=0.3),
    _c("windmill", "windmill", weight=0.4),
    _c("overpass", "overpass", "overpass", "overpasses", weight=0.3),
    _c("stadium", "stadium", weight=0.3),
    _c("bridge", "bridge", weight=0.4),
    _c("soccer ball field", "football_field", weight=0.4),
    _c("baseball diamond", "baseball_field", weight=0.4),
    _c("train station", "station", weight=0.2),
    _c("golf field", "golf_field", weight=0.2),
    _c("airport", "airport", weight=0.2),
    _c("harbor", "harbor", weight=0.3),
    _c("dam", "dam", weight=0.2),
    _c("ship", "ship", weight=0.9),
    _c("helipad", "helipad", weight=0.3),
    _c("vehicle", "car", weight=1.6),
    _c("chimney", "chimney", weight=0.3),
    _c("airplane", "airplane", weight=0.8),
    _c("helicopter", "helicopter", weight=0.3),
    _c("tennis court", "tennis_court", weight=0.8),
    _c("storage tank", "storage_tank", weight=0.9),
    _c("swimming pool", "pool", weight=0.6),
)
"""RISBench: the 26 category names (order as in RSRefSeg2's list)."""
