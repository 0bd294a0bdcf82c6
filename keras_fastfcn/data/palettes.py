"""Class names and display colours of the supported datasets.

Every palette is a ``(num_classes, 3)`` uint8 array of RGB colours indexed by
train id. The CamVid and Cityscapes colours are the datasets' own; PASCAL VOC
uses its PNG colour map; ADE20K and PASCAL-Context have no official colour
table, so they reuse the PASCAL colour map (distinct colours, train id ``k``
gets entry ``k + 1`` so that no class is black).
"""

import numpy as np

ADE20K_CLASSES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed",
    "windowpane", "grass", "cabinet", "sidewalk", "person", "earth", "door",
    "table", "mountain", "plant", "curtain", "chair", "car", "water",
    "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp",
    "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace",
    "refrigerator", "grandstand", "path", "stairs", "runway", "case",
    "pool table", "pillow", "screen door", "stairway", "river", "bridge",
    "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill",
    "bench", "countertop", "stove", "palm", "kitchen island", "computer",
    "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus", "towel",
    "light", "truck", "tower", "chandelier", "awning", "streetlight",
    "booth", "television receiver", "airplane", "dirt track", "apparel",
    "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet",
    "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy",
    "washer", "plaything", "swimming pool", "stool", "barrel", "basket",
    "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food",
    "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle",
    "lake", "dishwasher", "screen", "blanket", "sculpture", "hood", "sconce",
    "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen",
    "plate", "monitor", "bulletin board", "shower", "radiator", "glass",
    "clock", "flag",
)  # fmt: skip

PASCAL_CONTEXT_CLASSES = (
    "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird",
    "boat", "book", "bottle", "building", "bus", "cabinet", "car", "cat",
    "ceiling", "chair", "cloth", "computer", "cow", "cup", "curtain", "dog",
    "door", "fence", "floor", "flower", "food", "grass", "ground", "horse",
    "keyboard", "light", "motorbike", "mountain", "mouse", "person", "plate",
    "platform", "pottedplant", "road", "rock", "sheep", "shelves",
    "sidewalk", "sign", "sky", "snow", "sofa", "table", "track", "train",
    "tree", "truck", "tvmonitor", "wall", "water", "window", "wood",
)  # fmt: skip

PASCAL_VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus",
    "car", "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike",
    "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip

CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
    "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
    "truck", "bus", "train", "motorcycle", "bicycle",
)  # fmt: skip

CITYSCAPES_PALETTE = np.array(
    [
        (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156),
        (190, 153, 153), (153, 153, 153), (250, 170, 30), (220, 220, 0),
        (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
        (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100),
        (0, 0, 230), (119, 11, 32),
    ],
    dtype=np.uint8,
)  # fmt: skip

CAMVID_CLASSES = (
    "sky", "building", "pole", "road", "pavement", "tree", "signsymbol",
    "fence", "car", "pedestrian", "bicyclist",
)  # fmt: skip

CAMVID_PALETTE = np.array(
    [
        (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128),
        (60, 40, 222), (128, 128, 0), (192, 128, 128), (64, 64, 128),
        (64, 0, 128), (64, 64, 0), (0, 128, 192),
    ],
    dtype=np.uint8,
)  # fmt: skip


def pascal_color_map(num_colors: int = 256) -> np.ndarray:
    """Returns the PASCAL VOC colour map used by its palette PNG labels.

    Entry ``i`` spreads the bits of ``i`` over the high bits of R, G and B
    (bit 0 -> red, bit 1 -> green, bit 2 -> blue, then the next three bits
    one position lower, and so on). The 256 colours are all distinct; entry
    255 (the VOC "border / ignore" label) is (224, 224, 192).

    Args:
        num_colors: Number of entries, at most 256.

    Returns:
        A ``(num_colors, 3)`` uint8 array of RGB colours.
    """
    if not 0 < num_colors <= 256:
        raise ValueError(f"num_colors must be in 1..256, got {num_colors}.")
    colors = np.zeros((num_colors, 3), dtype=np.uint8)
    for index in range(num_colors):
        bits = index
        for shift in range(7, -1, -1):
            for channel in range(3):
                colors[index, channel] |= ((bits >> channel) & 1) << shift
            bits >>= 3
    return colors


def default_palette(num_classes: int) -> np.ndarray:
    """Returns distinct display colours for ``num_classes`` train ids.

    Args:
        num_classes: Number of classes, at most 255.

    Returns:
        A ``(num_classes, 3)`` uint8 array: entries 1..num_classes of the
        PASCAL colour map (so that no class is drawn black).
    """
    if not 0 < num_classes <= 255:
        raise ValueError(f"num_classes must be in 1..255, got {num_classes}.")
    return pascal_color_map(num_classes + 1)[1:]


ADE20K_PALETTE = default_palette(len(ADE20K_CLASSES))
PASCAL_CONTEXT_PALETTE = default_palette(len(PASCAL_CONTEXT_CLASSES))
PASCAL_VOC_PALETTE = pascal_color_map(len(PASCAL_VOC_CLASSES))


def colorize(
    label: np.ndarray, palette: np.ndarray, ignore_label: int = 255
) -> np.ndarray:
    """Paints a label map with a palette (ignored pixels black).

    Args:
        label: Integer train ids, shape ``(height, width)``.
        palette: ``(num_classes, 3)`` uint8 RGB colours.
        ignore_label: Label value drawn black.

    Returns:
        A ``(height, width, 3)`` uint8 RGB image.
    """
    label = np.asarray(label)
    palette = np.asarray(palette, dtype=np.uint8)
    valid = (label >= 0) & (label < len(palette))
    if not np.all(valid | (label == ignore_label)):
        bad = np.unique(label[~valid & (label != ignore_label)])[:10]
        raise ValueError(
            f"Label values {bad.tolist()} are neither train ids "
            f"(0..{len(palette) - 1}) nor the ignore label {ignore_label}."
        )
    image = palette[np.where(valid, label, 0)]
    image[~valid] = 0
    return image
