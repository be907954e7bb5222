"""Synthetic but plausible help-centre articles, to benchmark a 200-article help centre.

Product guides (setting up, care, specifications, spare parts, safety,
troubleshooting) for fictional product lines of the demo shop, generated
deterministically from templates: the same articles on every run and machine. They
are never written to knowledge_base/articles (the served help centre): `make
benchmark-kb` adds them in memory to the 17 real articles, so that the real
articles' questions must be found among 200 and the unanswerable ones refused among
200. Product types named in the question sets were left out, so no synthetic article
answers a question labelled unanswerable.
"""

from __future__ import annotations

import hashlib

from knowledge_base.articles import Article

# (line name, product type, power, material, how it is cleaned)
_PRODUCTS = (
    (
        "Verdant",
        "garden hose reel",
        "none",
        "UV-resistant PVC",
        "rinse it with a garden tap",
    ),
    (
        "Lotus",
        "yoga mat",
        "none",
        "natural rubber",
        "wipe it with a damp cloth and mild soap",
    ),
    (
        "Ridge",
        "bike helmet",
        "none",
        "EPS foam with a polycarbonate shell",
        "wash the pads by hand",
    ),
    (
        "Summit",
        "two-person tent",
        "none",
        "ripstop nylon",
        "brush off dirt and air it dry",
    ),
    (
        "Cocoon",
        "sleeping bag",
        "none",
        "recycled polyester fill",
        "machine wash it cold on a gentle cycle",
    ),
    (
        "Trailhead",
        "hiking backpack",
        "none",
        "waterproof Cordura",
        "sponge it with lukewarm water",
    ),
    (
        "Rill",
        "insulated water bottle",
        "none",
        "double-wall stainless steel",
        "hand wash it with a bottle brush",
    ),
    (
        "Gleam",
        "electric toothbrush",
        "rechargeable battery",
        "BPA-free plastic",
        "rinse the head after each use",
    ),
    (
        "Trim",
        "beard trimmer",
        "rechargeable battery",
        "stainless steel blades",
        "brush out the hair and oil the blades",
    ),
    (
        "Reef",
        "aquarium filter",
        "mains",
        "ABS housing with a sponge cartridge",
        "rinse the sponge in tank water",
    ),
    (
        "Wren",
        "bird feeder",
        "none",
        "powder-coated steel",
        "scrub it with hot water every two weeks",
    ),
    (
        "Sprout",
        "self-watering planter",
        "none",
        "recycled polypropylene",
        "empty the reservoir and wash it",
    ),
    (
        "Stitch",
        "sewing machine",
        "mains",
        "aluminium frame",
        "remove lint from the bobbin case",
    ),
    (
        "Layer",
        "3D printer",
        "mains",
        "steel frame with a glass bed",
        "clean the bed with isopropyl alcohol",
    ),
    (
        "Kestrel",
        "camera drone",
        "rechargeable battery",
        "carbon-fibre arms",
        "wipe the lens with a microfibre cloth",
    ),
    (
        "Orion",
        "beginner telescope",
        "none",
        "aluminium tube",
        "keep the lens caps on and blow off dust",
    ),
    (
        "Glide",
        "electric scooter",
        "rechargeable battery",
        "aluminium deck",
        "wipe it down; never hose it",
    ),
    (
        "Nollie",
        "skateboard",
        "none",
        "seven-ply maple",
        "wipe the bearings and keep it dry",
    ),
    (
        "Drift",
        "inflatable paddle board",
        "none",
        "drop-stitch PVC",
        "rinse it with fresh water after use",
    ),
    (
        "Cast",
        "telescopic fishing rod",
        "none",
        "carbon composite",
        "rinse the guides after saltwater use",
    ),
    (
        "Iron",
        "adjustable dumbbell set",
        "none",
        "cast iron plates",
        "wipe the handles after each workout",
    ),
    (
        "Stroke",
        "folding rowing machine",
        "none",
        "steel rail",
        "wipe the rail and check the strap",
    ),
    (
        "Mist",
        "ultrasonic humidifier",
        "mains",
        "BPA-free tank",
        "descale the tank with white vinegar",
    ),
    (
        "Crisp",
        "air fryer",
        "mains",
        "non-stick basket",
        "wash the basket in warm soapy water",
    ),
    (
        "Press",
        "sandwich toaster",
        "mains",
        "non-stick plates",
        "wipe the plates once they have cooled",
    ),
    (
        "Scoop",
        "ice cream maker",
        "mains",
        "freezer bowl",
        "hand wash the bowl and paddle",
    ),
    (
        "Tag",
        "label printer",
        "rechargeable battery",
        "ABS housing",
        "clean the print head with the supplied pen",
    ),
    (
        "Hush",
        "baby monitor",
        "mains",
        "ABS housing",
        "wipe the camera with a dry cloth",
    ),
    (
        "Purr",
        "pet water fountain",
        "mains",
        "ceramic bowl",
        "replace the filter and wash the pump monthly",
    ),
    (
        "Stride",
        "dog harness",
        "none",
        "padded nylon webbing",
        "hand wash it and let it air dry",
    ),
    (
        "Perch",
        "cat climbing tree",
        "none",
        "sisal rope and plush",
        "vacuum the plush and trim loose sisal",
    ),
)

_KINDS = ("setup", "care", "specifications", "parts", "safety", "troubleshooting")


def _number(seed: str, low: int, high: int) -> int:
    """A stable number in [low, high] from a text (the same on every run)."""
    value = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big")
    return low + value % (high - low + 1)


def _article(name: str, kind_of: str, power: str, material: str, clean: str, kind: str) -> Article:  # fmt: skip
    product = f"{name} {kind_of}"
    keywords: tuple[str, ...]
    questions: tuple[str, ...]
    weight = _number(product + "weight", 2, 90) / 10
    minutes = _number(product + "minutes", 2, 12) * 10
    powered = power != "none"
    if kind == "setup":
        title = f"Setting up the {product}"
        keywords = (f"{name} setup", "first use", "unboxing", "assembly")
        questions = (f"how do I set up the {name}", f"what comes in the {name} box")
        body = (
            f"The {product} arrives ready to use after a few minutes of setup. Unpack "
            f"every part and check them against the list in the quick-start leaflet. "
            + (f"Charge it fully before first use; that takes about {minutes} minutes. " if power == "rechargeable battery" else "")
            + ("Plug it into a grounded outlet and switch it on at the back. " if power == "mains" else "")
            + f"The full manual is on the product page under Downloads. Keep the box "
            f"for a while in case you need to send the {name} back."
        )  # fmt: skip
    elif kind == "care":
        title = f"Cleaning and caring for the {product}"
        keywords = (f"{name} cleaning", "care", "maintenance", "wash")
        questions = (
            f"how do I clean the {name}",
            f"can the {name} go in the dishwasher",
        )
        body = (
            f"To keep the {product} in good condition, {clean}. Never use bleach or "
            f"abrasive cleaners on {material}. "
            + ("Unplug it or switch it off before cleaning. " if powered else "")
            + "Store it somewhere dry and out of direct sunlight. None of its parts "
            "are dishwasher safe."
        )  # fmt: skip
    elif kind == "specifications":
        title = f"{product} specifications"
        keywords = (f"{name} size", "dimensions", "weight", "material")
        questions = (f"how heavy is the {name}", f"what is the {name} made of")
        body = (
            f"The {product} weighs {weight:.1f} kg and is made of {material}. "
            + (f"It runs on a {power}. " if powered else "It needs no power. ")
            + "Exact dimensions are listed on the product page under Specifications. "
            "It is designed for indoor and outdoor use in dry weather."
        )  # fmt: skip
    elif kind == "parts":
        title = f"Spare parts and accessories for the {product}"
        keywords = (f"{name} spare parts", "accessories", "replacement part")
        questions = (
            f"where can I buy a spare part for the {name}",
            f"which accessories fit the {name}",
        )
        body = (
            f"Genuine spare parts for the {product} are sold on its product page "
            f"under Accessories. Parts from other brands may not fit and can damage "
            f"the {name}. "
            + ("Replacement batteries are available too. " if power == "rechargeable battery" else "")
            + "If a part you need is not listed, our team can order it for you."
        )  # fmt: skip
    elif kind == "safety":
        title = f"Safety information for the {product}"
        keywords = (f"{name} safety", "safe use", "precautions")
        questions = (
            f"is the {name} safe to use",
            f"what precautions apply to the {name}",
        )
        body = (
            f"Read the safety leaflet that comes with the {product} before first use. "
            + ("Keep it away from water unless the manual says otherwise, and never charge it unattended. " if powered else "")
            + "Check it for damage before each use and stop using it if anything is "
            "cracked or loose. Keep small parts away from young children."
        )  # fmt: skip
    else:
        title = f"Troubleshooting the {product}"
        keywords = (f"{name} problem", "troubleshooting", "reset", "not working")
        questions = (
            f"my {name} is making a strange noise",
            f"how do I reset the {name}",
        )
        body = (
            f"Most problems with the {product} have a simple fix. "
            + (f"If it will not start, charge it for {minutes} minutes and try again. " if power == "rechargeable battery" else "")
            + ("If it will not start, check the plug and the outlet. " if power == "mains" else "")
            + f"A reset to factory settings is described in the manual. If the {name} "
            f"still misbehaves, send us its order number and a short video."
        )  # fmt: skip
    slug = f"synthetic-{name.lower()}-{kind}"
    return Article(slug, title, " ".join(body.split()), keywords, questions)


def synthetic_articles(count: int = 183) -> list[Article]:
    """``count`` synthetic articles (at most 186), the same ones on every call."""
    articles = [_article(*product, kind) for product in _PRODUCTS for kind in _KINDS]
    if count > len(articles):
        raise ValueError(f"at most {len(articles)} synthetic articles, not {count}")
    return articles[:count]
