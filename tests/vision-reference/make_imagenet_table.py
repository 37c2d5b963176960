"""Writes the first version of local/vision/src/imagenet_labels.tsv from rules by ImageNet index
range plus per-class overrides. The TSV is the maintained source from then on (edit it by hand);
this script records how it was first made. Usage: python make_imagenet_table.py LABELS.txt > TSV"""
import sys

A, M, W, P = "Animal", "Mammal", "Wildlife", "Pet"
PETS, NAT, FOOD, VEH, HOME, TECH, SPORT, APPAREL, MUSIC = (
    "Animals and Pets", "Nature and Outdoors", "Food and Beverage", "Vehicles and Automotive",
    "Home and Indoors", "Technology and Computing", "Sports", "Apparel and Accessories", "Hobbies and Interests")
BUILD, TOOLS, EVERY, WEAP = "Buildings and Architecture", "Tools and Machinery", "Everyday Objects", "Weapons and Military"

def name_of(raw):
    first = raw.split(",")[0].strip()
    return " ".join(w[:1].upper() + w[1:] for w in first.split(" "))

groups = [  # (first, last, label or None for "own name", parents, categories)
    (0, 6, "Fish", [A, "Sea Life", "Nature"], [PETS]),
    (7, 24, None, ["Bird", A, "Nature"], [PETS]),
    (25, 29, "Salamander", ["Amphibian", A, "Nature"], [PETS]),
    (30, 32, "Frog", ["Amphibian", A, "Nature"], [PETS]),
    (33, 37, "Turtle", ["Reptile", "Sea Life", A, "Nature"], [PETS]),
    (38, 48, "Lizard", ["Reptile", A, "Nature"], [PETS]),
    (49, 50, None, ["Reptile", A, "Nature"], [PETS]),
    (51, 51, "Dinosaur", ["Reptile", A], [PETS]),
    (52, 68, "Snake", ["Reptile", A, "Nature"], [PETS]),
    (69, 69, "Fossil", [A], [PETS]),
    (70, 78, "Spider", ["Arachnid", A, "Invertebrate", "Nature"], [PETS]),
    (79, 79, "Centipede", ["Insect", A, "Invertebrate", "Nature"], [PETS]),
    (80, 100, None, ["Bird", A, "Nature"], [PETS]),
    (101, 101, "Elephant", [A, M, W, "Nature"], [PETS]),
    (102, 106, None, [A, M, W, "Nature"], [PETS]),
    (107, 109, None, ["Sea Life", A, "Nature", "Water"], [PETS]),
    (110, 116, None, [A, "Invertebrate", "Nature"], [PETS]),
    (117, 117, None, ["Sea Life", A, "Nature"], [PETS]),
    (118, 126, None, ["Sea Life", A, "Invertebrate", "Nature"], [PETS]),
    (127, 146, None, ["Bird", A, "Nature"], [PETS]),
    (147, 150, None, ["Sea Life", A, M, "Nature"], [PETS]),
    (151, 268, None, ["Dog", A, "Canine", M, P], [PETS]),
    (269, 280, None, [A, "Canine", M, W, "Nature"], [PETS]),
    (281, 282, "Cat", [A, M, P], [PETS]),
    (283, 285, None, ["Cat", A, M, P], [PETS]),
    (286, 293, None, [A, M, W, "Nature"], [PETS]),
    (294, 297, None, ["Bear", A, M, W, "Nature"], [PETS]),
    (298, 299, None, [A, M, W, "Nature"], [PETS]),
    (300, 320, None, ["Insect", A, "Invertebrate", "Nature"], [PETS]),
    (321, 326, None, ["Butterfly", "Insect", A, "Invertebrate", "Nature"], [PETS]),
    (327, 329, None, ["Sea Life", A, "Invertebrate", "Nature", "Water"], [PETS]),
    (330, 332, "Rabbit", [A, M, "Rodent", "Nature"], [PETS]),
    (333, 338, None, [A, M, "Rodent", "Nature"], [PETS]),
    (339, 364, None, [A, M, "Nature"], [PETS]),
    (365, 384, None, ["Primate", A, M, W, "Nature"], [PETS]),
    (385, 386, "Elephant", [A, M, W, "Nature"], [PETS]),
    (387, 388, None, [A, M, W, "Nature"], [PETS]),
    (389, 397, "Fish", [A, "Sea Life", "Nature", "Water"], [PETS]),
    (924, 935, None, ["Food", "Meal"], [FOOD]),
    (936, 947, None, ["Vegetable", "Produce", "Food", "Plant", "Nature"], [FOOD]),
    (948, 957, None, ["Fruit", "Produce", "Food", "Plant", "Nature"], [FOOD]),
    (958, 958, "Hay", ["Straw", "Nature", "Outdoors"], [NAT]),
    (959, 965, None, ["Food", "Meal"], [FOOD]),
    (966, 969, None, ["Beverage", "Drink"], [FOOD]),
]

# index: (label, parents, categories); label None = own name; "-" = skipped.
over = {
    34: ("Sea Turtle", ["Turtle", "Reptile", "Sea Life", A, "Nature", "Water"], [PETS]),
    130: ("Flamingo", ["Bird", A, "Nature"], [PETS]), 144: ("Pelican", ["Bird", A, "Nature"], [PETS]),
    145: ("Penguin", ["Bird", A, "Nature"], [PETS]), 296: ("Polar Bear", ["Bear", A, M, W, "Nature"], [PETS]),
    339: ("Horse", [A, M], [PETS]), 340: ("Zebra", [A, M, W, "Nature"], [PETS]),
    341: ("Pig", [A, M, "Livestock"], [PETS]), 345: ("Cow", [A, M, "Cattle", "Livestock"], [PETS]),
    346: ("Water Buffalo", [A, M, "Cattle"], [PETS]), 347: ("Bison", [A, M, W, "Nature"], [PETS]),
    348: ("Sheep", [A, M, "Livestock"], [PETS]), 349: ("Bighorn Sheep", ["Sheep", A, M, W, "Nature"], [PETS]),
    354: ("Camel", [A, M], [PETS]), 355: ("Llama", [A, M], [PETS]),
    388: ("Panda", ["Bear", A, M, W, "Nature"], [PETS]), 387: ("Red Panda", [A, M, W, "Nature"], [PETS]),
    309: ("Bee", ["Insect", A, "Invertebrate", "Nature"], [PETS]), 301: ("Ladybug", ["Insect", A, "Invertebrate", "Nature"], [PETS]),
    934: ("Hot Dog", ["Food"], [FOOD]), 963: ("Pizza", ["Food"], [FOOD]), 933: ("Burger", ["Food"], [FOOD]),
    928: ("Ice Cream", ["Dessert", "Food", "Cream"], [FOOD]), 927: ("Trifle", ["Dessert", "Food"], [FOOD]),
    967: ("Espresso", ["Coffee", "Beverage", "Coffee Cup"], [FOOD]), 968: ("Cup", ["Coffee Cup"], [FOOD]),
    966: ("Wine", ["Alcohol", "Beverage", "Drink"], [FOOD]), 948: ("Apple", ["Fruit", "Produce", "Food", "Plant"], [FOOD]),
    970: ("Mountain", ["Nature", "Outdoors", "Mountain Range", "Peak"], [NAT]),
    971: ("Bubble", ["Water"], [NAT]),
    972: ("Cliff", ["Nature", "Outdoors", "Rock"], [NAT]),
    973: ("Reef", ["Nature", "Outdoors", "Sea", "Water", "Underwater", "Sea Life"], [NAT]),
    974: ("Geyser", ["Nature", "Outdoors", "Water"], [NAT]),
    975: ("Lake", ["Nature", "Outdoors", "Water", "Shoreline", "Scenery", "Landscape"], [NAT]),
    976: ("Promontory", ["Nature", "Outdoors", "Sea", "Water", "Shoreline", "Coast", "Landscape"], [NAT]),
    977: ("Sandbar", ["Nature", "Outdoors", "Sea", "Water", "Shoreline", "Coast", "Beach", "Landscape"], [NAT]),
    978: ("Beach", ["Nature", "Outdoors", "Sea", "Water", "Shoreline", "Coast", "Ocean", "Landscape"], [NAT]),
    979: ("Valley", ["Nature", "Outdoors", "Landscape", "Scenery"], [NAT]),
    980: ("Volcano", ["Nature", "Outdoors", "Mountain", "Landscape"], [NAT]),
    981: ("Baseball Player", ["Person", "Sport", "Baseball"], [SPORT]),
    982: ("Groom", ["Person", "Wedding", "Formal Wear"], ["Events and Attractions"]),
    983: ("Scuba Diver", ["Person", "Water", "Underwater", "Sport"], [SPORT]),
    984: ("Rapeseed", ["Plant", "Field", "Flower", "Nature", "Outdoors"], [NAT]),
    985: ("Daisy", ["Flower", "Plant", "Nature", "Petal"], ["Plants and Flowers"]),
    986: ("Orchid", ["Flower", "Plant", "Nature"], ["Plants and Flowers"]),
    987: ("Corn", ["Plant", "Food", "Produce", "Grain", "Nature"], [FOOD]),
    988: ("Acorn", ["Plant", "Nut", "Nature"], ["Plants and Flowers"]),
    989: ("Rose Hip", ["Fruit", "Plant", "Nature"], ["Plants and Flowers"]),
    990: ("Buckeye", ["Plant", "Nut", "Nature"], ["Plants and Flowers"]),
    991: ("Fungus", ["Plant", "Nature"], ["Plants and Flowers"]),
    992: ("Mushroom", ["Fungus", "Plant", "Nature"], ["Plants and Flowers"]),
    993: ("Mushroom", ["Fungus", "Plant", "Nature"], ["Plants and Flowers"]),
    994: ("Mushroom", ["Fungus", "Plant", "Nature"], ["Plants and Flowers"]),
    995: ("Fungus", ["Plant", "Nature"], ["Plants and Flowers"]),
    996: ("Mushroom", ["Fungus", "Plant", "Nature"], ["Plants and Flowers"]),
    997: ("Mushroom", ["Fungus", "Plant", "Nature"], ["Plants and Flowers"]),
    998: ("Grain", ["Plant", "Produce", "Nature"], ["Plants and Flowers"]),
    999: ("Toilet Paper", ["Paper", "Towel"], [HOME]),
    947: ("Mushroom", ["Fungus", "Vegetable", "Produce", "Food", "Plant"], [FOOD]),
    # Objects: vehicles.
    403: ("Aircraft Carrier", ["Ship", "Vehicle", "Transportation", "Watercraft", "Water"], [VEH]),
    404: ("Airliner", ["Airplane", "Aircraft", "Vehicle", "Transportation"], [VEH]),
    405: ("Airship", ["Aircraft", "Vehicle", "Transportation"], [VEH]),
    407: ("Ambulance", ["Car", "Vehicle", "Transportation"], [VEH]),
    436: ("Station Wagon", ["Car", "Vehicle", "Transportation"], [VEH]),
    444: ("Tandem Bicycle", ["Bicycle", "Vehicle", "Transportation"], [VEH]),
    466: ("Train", ["Vehicle", "Transportation", "Railway"], [VEH]), 468: ("Taxi", ["Car", "Vehicle", "Transportation"], [VEH]),
    472: ("Canoe", ["Boat", "Vehicle", "Transportation", "Watercraft", "Water"], [VEH]),
    475: ("Car Mirror", ["Car", "Vehicle", "Transportation"], [VEH]), 479: ("Wheel", ["Car", "Vehicle", "Transportation"], [VEH]),
    484: ("Catamaran", ["Boat", "Vehicle", "Transportation", "Watercraft", "Water"], [VEH]),
    510: ("Container Ship", ["Ship", "Vehicle", "Transportation", "Watercraft", "Water"], [VEH]),
    511: ("Convertible", ["Car", "Vehicle", "Transportation"], [VEH]), 535: ("Disc Brake", ["Car", "Vehicle"], [VEH]),
    547: ("Locomotive", ["Train", "Vehicle", "Transportation", "Railway"], [VEH]), 554: ("Fireboat", ["Boat", "Vehicle", "Transportation", "Watercraft", "Water"], [VEH]),
    555: ("Fire Truck", ["Truck", "Vehicle", "Transportation"], [VEH]), 565: ("Freight Car", ["Train", "Vehicle", "Transportation", "Railway"], [VEH]),
    569: ("Garbage Truck", ["Truck", "Vehicle", "Transportation"], [VEH]), 573: ("Go-Kart", ["Vehicle", "Transportation"], [VEH]),
    575: ("Golf Cart", ["Vehicle", "Transportation"], [VEH]), 576: ("Gondola", ["Boat", "Vehicle", "Transportation", "Watercraft", "Water"], [VEH]),
    581: ("Grille", ["Car", "Vehicle", "Transportation"], [VEH]), 609: ("Jeep", ["Car", "Vehicle", "Transportation"], [VEH]),
    627: ("Limousine", ["Car", "Vehicle", "Transportation"], [VEH]), 628: ("Ocean Liner", ["Ship", "Vehicle", "Transportation", "Watercraft", "Water"], [VEH]),
    654: ("Minibus", ["Bus", "Vehicle", "Transportation"], [VEH]), 656: ("Minivan", ["Car", "Vehicle", "Transportation"], [VEH]),
    661: ("Model T", ["Car", "Vehicle", "Transportation"], [VEH]), 665: ("Moped", ["Motorcycle", "Vehicle", "Transportation"], [VEH]),
    670: ("Scooter", ["Motorcycle", "Vehicle", "Transportation"], [VEH]), 671: ("Mountain Bike", ["Bicycle", "Vehicle", "Transportation"], [VEH]),
    675: ("Moving Van", ["Truck", "Vehicle", "Transportation"], [VEH]), 705: ("Passenger Car", ["Train", "Vehicle", "Transportation", "Railway"], [VEH]),
    717: ("Pickup Truck", ["Truck", "Vehicle", "Transportation"], [VEH]), 726: ("Airplane", ["Aircraft", "Vehicle", "Transportation"], [VEH]),
    734: ("Police Van", ["Car", "Vehicle", "Transportation"], [VEH]), 751: ("Race Car", ["Car", "Vehicle", "Transportation"], [VEH]),
    757: ("RV", ["Vehicle", "Transportation"], [VEH]), 779: ("School Bus", ["Bus", "Vehicle", "Transportation"], [VEH]),
    780: ("Schooner", ["Boat", "Sailboat", "Vehicle", "Transportation", "Watercraft", "Water"], [VEH]),
    814: ("Speedboat", ["Boat", "Vehicle", "Transportation", "Watercraft", "Water"], [VEH]),
    817: ("Sports Car", ["Car", "Vehicle", "Transportation"], [VEH]), 820: ("Steam Engine", ["Train", "Locomotive", "Vehicle", "Transportation", "Railway"], [VEH]),
    829: ("Tram", ["Vehicle", "Transportation"], [VEH]), 833: ("Submarine", ["Vehicle", "Transportation", "Watercraft", "Water"], [VEH]),
    864: ("Tow Truck", ["Truck", "Vehicle", "Transportation"], [VEH]), 866: ("Tractor", ["Vehicle", "Transportation"], [VEH]),
    867: ("Truck", ["Vehicle", "Transportation"], [VEH]), 870: ("Tricycle", ["Vehicle", "Transportation"], [VEH]),
    871: ("Trimaran", ["Boat", "Vehicle", "Transportation", "Watercraft", "Water"], [VEH]), 874: ("Trolleybus", ["Bus", "Vehicle", "Transportation"], [VEH]),
    895: ("Warplane", ["Airplane", "Aircraft", "Vehicle", "Transportation"], [VEH]), 908: ("Aircraft Wing", ["Aircraft", "Vehicle", "Transportation"], [VEH]),
    913: ("Shipwreck", ["Boat", "Water"], [VEH]), 914: ("Yawl", ["Boat", "Sailboat", "Vehicle", "Transportation", "Watercraft", "Water"], [VEH]),
    # Buildings and places.
    425: ("Barn", ["Building", "Farm", "Countryside", "Outdoors"], [BUILD]), 449: ("Boathouse", ["Building", "Water", "Outdoors"], [BUILD]),
    460: ("Breakwater", ["Pier", "Sea", "Water", "Shoreline", "Outdoors"], [NAT]), 483: ("Castle", ["Building", "Architecture"], [BUILD]),
    497: ("Church", ["Building", "Architecture"], [BUILD]), 525: ("Dam", ["Water", "Outdoors", "Architecture"], [BUILD]),
    536: ("Dock", ["Pier", "Water", "Waterfront", "Outdoors"], [BUILD]), 562: ("Fountain", ["Water", "Architecture"], [BUILD]),
    580: ("Greenhouse", ["Building", "Garden", "Outdoors"], [BUILD]), 668: ("Mosque", ["Building", "Architecture"], [BUILD]),
    698: ("Palace", ["Building", "Architecture"], [BUILD]), 718: ("Pier", ["Water", "Waterfront", "Outdoors"], [BUILD]),
    821: ("Bridge", ["Architecture", "Outdoors"], [BUILD]), 839: ("Suspension Bridge", ["Bridge", "Architecture", "Outdoors"], [BUILD]),
    888: ("Viaduct", ["Bridge", "Architecture", "Outdoors"], [BUILD]), 825: ("Stone Wall", ["Wall", "Rock"], [BUILD]),
    # Everyday and indoor objects the classifier fires on often.
    794: ("Shower Curtain", ["Curtain", "Pattern"], [HOME]), 854: ("Curtain", ["Stage"], [HOME]),
    905: ("Window Shade", ["Curtain", "Window"], [HOME]), 741: ("Rug", ["Pattern", "Home Decor"], [HOME]),
    885: ("Velvet", ["Texture", "Pattern"], [HOME]), 911: ("Wool", ["Texture"], [HOME]), 750: ("Quilt", ["Pattern", "Home Decor"], [HOME]),
    599: ("Honeycomb", ["Pattern"], [NAT]), 896: ("Sink", ["Water"], [HOME]), 435: ("Bathtub", ["Tub", "Bathroom", "Water"], [HOME]),
    876: ("Tub", ["Water"], [HOME]), 898: ("Water Bottle", ["Bottle", "Water"], [EVERY]),
    916: ("Website", ["Text", "Graphics"], [TECH]), 917: ("Comics", ["Book", "Art", "Publication"], [EVERY]),
    921: ("Book Cover", ["Book", "Publication", "Text"], [EVERY]), 922: ("Menu", ["Text", "Document"], [EVERY]),
    918: ("Crossword Puzzle", ["Text", "Game"], [EVERY]), 919: ("Road Sign", ["Sign", "Symbol"], ["Public Safety"]),
    920: ("Traffic Light", ["Light"], ["Public Safety"]), 923: ("Plate", ["Dish", "Food"], [FOOD]),
    532: ("Dining Table", ["Furniture", "Table"], ["Furniture and Furnishings"]), 526: ("Desk", ["Furniture", "Table"], ["Furniture and Furnishings"]),
    559: ("Folding Chair", ["Chair", "Furniture"], ["Furniture and Furnishings"]), 765: ("Rocking Chair", ["Chair", "Furniture"], ["Furniture and Furnishings"]),
    831: ("Couch", ["Furniture"], ["Furniture and Furnishings"]), 703: ("Bench", ["Furniture", "Outdoors"], ["Furniture and Furnishings"]),
    453: ("Bookcase", ["Furniture", "Shelf"], ["Furniture and Furnishings"]), 564: ("Bed", ["Furniture"], ["Furniture and Furnishings"]),
    504: ("Mug", ["Cup"], [FOOD]), 620: ("Laptop", ["Computer", "Electronics", "Pc"], [TECH]),
    527: ("Desktop Computer", ["Computer", "Electronics", "Pc"], [TECH]), 664: ("Monitor", ["Screen", "Electronics", "Computer Hardware"], [TECH]),
    782: ("Screen", ["Electronics"], [TECH]), 851: ("TV", ["Screen", "Electronics"], [TECH]),
    508: ("Computer Keyboard", ["Computer Hardware", "Electronics", "Hardware"], [TECH]), 673: ("Mouse", ["Computer Hardware", "Electronics", "Hardware"], [TECH]),
    487: ("Mobile Phone", ["Phone", "Electronics"], [TECH]), 761: ("Remote Control", ["Electronics"], [TECH]),
    760: ("Refrigerator", ["Appliance", "Device", "Electrical Device"], [HOME]), 651: ("Microwave", ["Appliance", "Device", "Electrical Device"], [HOME]),
    859: ("Toaster", ["Appliance", "Device", "Electrical Device"], [HOME]), 827: ("Stove", ["Appliance", "Oven"], [HOME]),
    409: ("Analog Clock", ["Clock"], [EVERY]), 530: ("Digital Clock", ["Clock", "Electronics"], [EVERY]), 892: ("Wall Clock", ["Clock"], [EVERY]),
    883: ("Vase", ["Jar", "Pottery"], [HOME]), 850: ("Teddy Bear", ["Toy"], [MUSIC]), 879: ("Umbrella", [], [APPAREL]),
    414: ("Backpack", ["Bag"], [APPAREL]), 748: ("Handbag", ["Bag", "Accessories"], [APPAREL]), 770: ("Shoe", ["Footwear", "Clothing"], [APPAREL]),
    677: ("Nail", ["Hardware", "Tool"], [TOOLS]), 783: ("Screw", ["Hardware", "Tool"], [TOOLS]),
    494: ("Wind Chime", ["Home Decor"], [HOME]), 644: ("Matchstick", [], [EVERY]),
    560: ("Football Helmet", ["Helmet", "Sports Equipment"], [SPORT]), 518: ("Helmet", ["Clothing"], [APPAREL]),
    812: ("Space Shuttle", ["Spaceship", "Aircraft", "Vehicle", "Transportation"], [VEH]),
    # Ambiguous words in ImageNet's list: skipped rather than misnamed.
    744: ("-", [], []), 999: ("Toilet Paper", ["Paper"], [HOME]),
}

labels = [l.rstrip("\n") for l in open(sys.argv[1])]
assert len(labels) == 1000, len(labels)
print("# ImageNet class -> Rekognition-style label. index, ImageNet name, label ('-' = skipped), parents (';'), categories (';')")
for ix, raw in enumerate(labels):
    first = raw.split(",")[0].strip()
    label, parents, cats = None, [], []
    for lo, hi, lab, par, cat in groups:
        if lo <= ix <= hi:
            label, parents, cats = lab, par, cat
    if ix in over:
        label, parents, cats = over[ix]
    if label is None:
        label = name_of(raw)
    if not cats and label != "-":
        cats = [EVERY]
    parents = [p for p in dict.fromkeys(parents) if p != label]
    print(f"{ix}\t{first}\t{label}\t{';'.join(parents)}\t{';'.join(cats)}")
