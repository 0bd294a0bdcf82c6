"""Input normalisation shared by models, data pipelines and exports.

Models take RGB in [0, 1] normalised with the ImageNet mean and standard
deviation, as the official FastFCN code (`transforms.Normalize`).
"""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
