//! The COCO classes the model knows, mapped to Rekognition-style names, parents and categories.

/// Rekognition-style description of one COCO class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassInfo {
    /// COCO label-map id (1..=90, with gaps), as the model numbers its classes.
    pub coco_id: usize,
    /// The COCO name, e.g. "dining table".
    pub coco_name: &'static str,
    /// Rekognition-style label name, e.g. "Dining Table".
    pub name: &'static str,
    pub parents: &'static [&'static str],
    pub aliases: &'static [&'static str],
    pub categories: &'static [&'static str],
}

const ANIMALS: &[&str] = &["Animals and Pets"];
const VEHICLES: &[&str] = &["Vehicles and Automotive"];
const FOOD: &[&str] = &["Food and Beverage"];
const FURNITURE: &[&str] = &["Furniture and Furnishings"];
const TECH: &[&str] = &["Technology and Computing"];
const SPORTS: &[&str] = &["Sports"];
const HOME: &[&str] = &["Home and Indoors"];
const EVERYDAY: &[&str] = &["Everyday Objects"];
const APPAREL: &[&str] = &["Apparel and Accessories"];
const SAFETY: &[&str] = &["Public Safety"];
const HOBBIES: &[&str] = &["Hobbies and Interests"];
const BEAUTY: &[&str] = &["Beauty and Personal Care"];
const TOOLS: &[&str] = &["Tools and Machinery"];

const VEHICLE: &[&str] = &["Transportation", "Vehicle"];
const WILD: &[&str] = &["Animal", "Mammal", "Wildlife"];
const FRUIT: &[&str] = &["Food", "Fruit", "Plant", "Produce"];
const VEGETABLE: &[&str] = &["Food", "Plant", "Produce", "Vegetable"];
const APPLIANCE: &[&str] = &["Appliance", "Device", "Electrical Device"];
const HARDWARE: &[&str] = &["Computer Hardware", "Electronics", "Hardware"];
const GEAR: &[&str] = &["Sports Equipment"];

const fn class(
    coco_id: usize,
    coco_name: &'static str,
    name: &'static str,
    parents: &'static [&'static str],
    aliases: &'static [&'static str],
    categories: &'static [&'static str],
) -> ClassInfo {
    ClassInfo { coco_id, coco_name, name, parents, aliases, categories }
}

/// All 80 COCO classes, by COCO id.
pub const CLASSES: &[ClassInfo] = &[
    class(1, "person", "Person", &[], &["Human"], &["Person Description"]),
    class(2, "bicycle", "Bicycle", VEHICLE, &["Bike"], VEHICLES),
    class(3, "car", "Car", VEHICLE, &["Automobile"], VEHICLES),
    class(4, "motorcycle", "Motorcycle", VEHICLE, &["Motorbike"], VEHICLES),
    class(5, "airplane", "Airplane", &["Aircraft", "Transportation", "Vehicle"], &["Aeroplane"], VEHICLES),
    class(6, "bus", "Bus", VEHICLE, &[], VEHICLES),
    class(7, "train", "Train", VEHICLE, &[], VEHICLES),
    class(8, "truck", "Truck", VEHICLE, &["Lorry"], VEHICLES),
    class(9, "boat", "Boat", &["Transportation", "Vehicle", "Watercraft"], &[], VEHICLES),
    class(10, "traffic light", "Traffic Light", &["Light"], &["Stoplight"], SAFETY),
    class(11, "fire hydrant", "Fire Hydrant", &["Hydrant"], &[], SAFETY),
    class(13, "stop sign", "Stop Sign", &["Road Sign", "Sign", "Symbol"], &[], SAFETY),
    class(14, "parking meter", "Parking Meter", &[], &[], VEHICLES),
    class(15, "bench", "Bench", &["Furniture"], &[], FURNITURE),
    class(16, "bird", "Bird", &["Animal"], &[], ANIMALS),
    class(17, "cat", "Cat", &["Animal", "Mammal", "Pet"], &["Kitten"], ANIMALS),
    class(18, "dog", "Dog", &["Animal", "Canine", "Mammal", "Pet"], &["Puppy"], ANIMALS),
    class(19, "horse", "Horse", &["Animal", "Mammal"], &[], ANIMALS),
    class(20, "sheep", "Sheep", &["Animal", "Livestock", "Mammal"], &[], ANIMALS),
    class(21, "cow", "Cow", &["Animal", "Cattle", "Livestock", "Mammal"], &[], ANIMALS),
    class(22, "elephant", "Elephant", WILD, &[], ANIMALS),
    class(23, "bear", "Bear", WILD, &[], ANIMALS),
    class(24, "zebra", "Zebra", WILD, &[], ANIMALS),
    class(25, "giraffe", "Giraffe", WILD, &[], ANIMALS),
    class(27, "backpack", "Backpack", &["Bag"], &[], APPAREL),
    class(28, "umbrella", "Umbrella", &[], &[], APPAREL),
    class(31, "handbag", "Handbag", &["Accessories", "Bag"], &["Purse"], APPAREL),
    class(32, "tie", "Tie", &["Accessories", "Formal Wear"], &["Necktie"], APPAREL),
    class(33, "suitcase", "Suitcase", &["Baggage"], &["Luggage"], &["Travel and Adventure"]),
    class(34, "frisbee", "Frisbee", &["Toy"], &[], SPORTS),
    class(35, "skis", "Ski", GEAR, &["Skis"], SPORTS),
    class(36, "snowboard", "Snowboard", GEAR, &[], SPORTS),
    class(37, "sports ball", "Ball", GEAR, &["Sports Ball"], SPORTS),
    class(38, "kite", "Kite", &["Toy"], &[], HOBBIES),
    class(39, "baseball bat", "Baseball Bat", GEAR, &[], SPORTS),
    class(40, "baseball glove", "Baseball Glove", &["Glove", "Sports Equipment"], &["Baseball Mitt"], SPORTS),
    class(41, "skateboard", "Skateboard", GEAR, &[], SPORTS),
    class(42, "surfboard", "Surfboard", GEAR, &[], SPORTS),
    class(43, "tennis racket", "Racket", GEAR, &["Tennis Racket"], SPORTS),
    class(44, "bottle", "Bottle", &[], &[], EVERYDAY),
    class(46, "wine glass", "Wine Glass", &["Glass"], &[], FOOD),
    class(47, "cup", "Cup", &[], &["Mug"], FOOD),
    class(48, "fork", "Fork", &["Cutlery"], &[], FOOD),
    class(49, "knife", "Knife", &["Cutlery"], &[], FOOD),
    class(50, "spoon", "Spoon", &["Cutlery"], &[], FOOD),
    class(51, "bowl", "Bowl", &[], &[], FOOD),
    class(52, "banana", "Banana", FRUIT, &[], FOOD),
    class(53, "apple", "Apple", FRUIT, &[], FOOD),
    class(54, "sandwich", "Sandwich", &["Food"], &[], FOOD),
    class(55, "orange", "Orange", &["Citrus Fruit", "Food", "Fruit", "Plant", "Produce"], &[], FOOD),
    class(56, "broccoli", "Broccoli", VEGETABLE, &[], FOOD),
    class(57, "carrot", "Carrot", VEGETABLE, &[], FOOD),
    class(58, "hot dog", "Hot Dog", &["Food"], &[], FOOD),
    class(59, "pizza", "Pizza", &["Food"], &[], FOOD),
    class(60, "donut", "Donut", &["Dessert", "Food", "Pastry"], &["Doughnut"], FOOD),
    class(61, "cake", "Cake", &["Dessert", "Food"], &[], FOOD),
    class(62, "chair", "Chair", &["Furniture"], &[], FURNITURE),
    class(63, "couch", "Couch", &["Furniture"], &["Sofa"], FURNITURE),
    class(64, "potted plant", "Potted Plant", &["Plant"], &["Houseplant"], &["Plants and Flowers"]),
    class(65, "bed", "Bed", &["Furniture"], &[], FURNITURE),
    class(67, "dining table", "Dining Table", &["Furniture", "Table"], &[], FURNITURE),
    class(70, "toilet", "Toilet", &["Bathroom", "Indoors"], &[], HOME),
    class(72, "tv", "TV", &["Electronics", "Screen"], &["Television"], TECH),
    class(73, "laptop", "Laptop", &["Computer", "Electronics", "Pc"], &[], TECH),
    class(74, "mouse", "Mouse", HARDWARE, &["Computer Mouse"], TECH),
    class(75, "remote", "Remote Control", &["Electronics"], &["Remote"], TECH),
    class(76, "keyboard", "Computer Keyboard", HARDWARE, &["Keyboard"], TECH),
    class(77, "cell phone", "Mobile Phone", &["Electronics", "Phone"], &["Cell Phone"], TECH),
    class(78, "microwave", "Microwave", APPLIANCE, &[], HOME),
    class(79, "oven", "Oven", APPLIANCE, &[], HOME),
    class(80, "toaster", "Toaster", APPLIANCE, &[], HOME),
    class(81, "sink", "Sink", &[], &[], HOME),
    class(82, "refrigerator", "Refrigerator", APPLIANCE, &["Fridge"], HOME),
    class(84, "book", "Book", &["Publication"], &[], &["Text and Documents"]),
    class(85, "clock", "Clock", &[], &[], EVERYDAY),
    class(86, "vase", "Vase", &["Jar", "Pottery"], &[], HOME),
    class(87, "scissors", "Scissors", &[], &[], TOOLS),
    class(88, "teddy bear", "Teddy Bear", &["Toy"], &[], HOBBIES),
    class(89, "hair drier", "Hair Dryer", APPLIANCE, &["Blow Dryer"], BEAUTY),
    class(90, "toothbrush", "Toothbrush", &["Brush", "Tool"], &[], BEAUTY),
];

/// The class with this COCO id, or `None` for the ids COCO leaves unused.
pub fn by_coco_id(coco_id: usize) -> Option<&'static ClassInfo> {
    CLASSES.iter().find(|c| c.coco_id == coco_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn all_eighty_classes_with_unique_ids_and_names() {
        assert_eq!(CLASSES.len(), 80);
        let ids: HashSet<_> = CLASSES.iter().map(|c| c.coco_id).collect();
        let names: HashSet<_> = CLASSES.iter().map(|c| c.name).collect();
        assert_eq!(ids.len(), 80);
        assert_eq!(names.len(), 80);
        assert!(CLASSES.iter().all(|c| (1..=90).contains(&c.coco_id) && !c.categories.is_empty()));
    }

    #[test]
    fn unused_coco_ids_have_no_class() {
        for id in [0, 12, 26, 29, 30, 45, 66, 68, 69, 71, 83, 91] {
            assert!(by_coco_id(id).is_none(), "id {id}");
        }
        assert_eq!(by_coco_id(18).map(|c| c.name), Some("Dog"));
        assert_eq!(by_coco_id(67).map(|c| c.coco_name), Some("dining table"));
    }
}
