//! Where a US or Canadian recipient probably is, as an IANA time zone, so that quiet hours (texts only
//! 08:00–21:00 in the recipient's local time) can be kept without asking for their zone.
//!
//! The tables are our own, written down from public facts (USPS sectional centers, NANP area codes,
//! which counties keep which time). Each fact is in one place: a state's zone in `STATES`, a ZIP prefix's
//! state in `ZIP_PREFIX_STATES`, an area code's state in `AREA_CODES`; the few ZIP prefixes and area
//! codes whose people mostly live in another zone than their state's are in the `*_OFF_STATE` tables.
//!
//! The majority rule: a state (or code, or prefix) that spans two zones gets the zone most of its people
//! live in. It is a guess, never a fact about one person.

use std::cmp::Ordering;

/// US states, DC, territories, Canadian provinces and territories: (code, name, zone of most people).
static STATES: &[(&str, &str, &str)] = &[
    ("AL", "Alabama", "America/Chicago"),
    ("AK", "Alaska", "America/Anchorage"),
    ("AZ", "Arizona", "America/Phoenix"),
    ("AR", "Arkansas", "America/Chicago"),
    ("CA", "California", "America/Los_Angeles"),
    ("CO", "Colorado", "America/Denver"),
    ("CT", "Connecticut", "America/New_York"),
    ("DE", "Delaware", "America/New_York"),
    ("DC", "District of Columbia", "America/New_York"),
    // Panhandle west of the Apalachicola is Central; most people are Eastern.
    ("FL", "Florida", "America/New_York"),
    ("GA", "Georgia", "America/New_York"),
    ("HI", "Hawaii", "Pacific/Honolulu"),
    // The north (Coeur d'Alene, Lewiston) is Pacific; most people are around Boise.
    ("ID", "Idaho", "America/Boise"),
    ("IL", "Illinois", "America/Chicago"),
    // Gary/Hammond and Evansville corners are Central; most people are Eastern.
    ("IN", "Indiana", "America/Indiana/Indianapolis"),
    ("IA", "Iowa", "America/Chicago"),
    // Four western counties are Mountain.
    ("KS", "Kansas", "America/Chicago"),
    // The west (Bowling Green, Paducah) is Central; Louisville and Lexington are Eastern.
    ("KY", "Kentucky", "America/New_York"),
    ("LA", "Louisiana", "America/Chicago"),
    ("ME", "Maine", "America/New_York"),
    ("MD", "Maryland", "America/New_York"),
    ("MA", "Massachusetts", "America/New_York"),
    // Four upper-peninsula counties on the Wisconsin line are Central.
    ("MI", "Michigan", "America/Detroit"),
    ("MN", "Minnesota", "America/Chicago"),
    ("MS", "Mississippi", "America/Chicago"),
    ("MO", "Missouri", "America/Chicago"),
    ("MT", "Montana", "America/Denver"),
    // The panhandle and far west are Mountain.
    ("NE", "Nebraska", "America/Chicago"),
    ("NV", "Nevada", "America/Los_Angeles"),
    ("NH", "New Hampshire", "America/New_York"),
    ("NJ", "New Jersey", "America/New_York"),
    ("NM", "New Mexico", "America/Denver"),
    ("NY", "New York", "America/New_York"),
    ("NC", "North Carolina", "America/New_York"),
    // The southwest (Dickinson) is Mountain.
    ("ND", "North Dakota", "America/Chicago"),
    ("OH", "Ohio", "America/New_York"),
    ("OK", "Oklahoma", "America/Chicago"),
    // Malheur county (Ontario) is Mountain.
    ("OR", "Oregon", "America/Los_Angeles"),
    ("PA", "Pennsylvania", "America/New_York"),
    ("RI", "Rhode Island", "America/New_York"),
    ("SC", "South Carolina", "America/New_York"),
    // West of the Missouri (Rapid City) is Mountain.
    ("SD", "South Dakota", "America/Chicago"),
    // East Tennessee (Knoxville, Chattanooga, Tri-Cities) is Eastern; Nashville and Memphis are Central.
    ("TN", "Tennessee", "America/Chicago"),
    // El Paso and Hudspeth counties are Mountain.
    ("TX", "Texas", "America/Chicago"),
    ("UT", "Utah", "America/Denver"),
    ("VT", "Vermont", "America/New_York"),
    ("VA", "Virginia", "America/New_York"),
    ("WA", "Washington", "America/Los_Angeles"),
    ("WV", "West Virginia", "America/New_York"),
    ("WI", "Wisconsin", "America/Chicago"),
    ("WY", "Wyoming", "America/Denver"),
    ("PR", "Puerto Rico", "America/Puerto_Rico"),
    ("VI", "U.S. Virgin Islands", "America/St_Thomas"),
    ("GU", "Guam", "Pacific/Guam"),
    ("AS", "American Samoa", "Pacific/Pago_Pago"),
    ("MP", "Northern Mariana Islands", "Pacific/Saipan"),
    // Canada.
    ("AB", "Alberta", "America/Edmonton"),
    // The Peace River and Kootenay corners keep Mountain time; most people are Pacific.
    ("BC", "British Columbia", "America/Vancouver"),
    ("MB", "Manitoba", "America/Winnipeg"),
    ("NB", "New Brunswick", "America/Moncton"),
    // Most of Labrador keeps Atlantic time; most people are on the island.
    ("NL", "Newfoundland and Labrador", "America/St_Johns"),
    ("NS", "Nova Scotia", "America/Halifax"),
    // Northwestern Ontario (Kenora) is Central; most people are Eastern.
    ("ON", "Ontario", "America/Toronto"),
    ("PE", "Prince Edward Island", "America/Halifax"),
    // The Magdalen Islands and the far east are Atlantic; most people are Eastern.
    ("QC", "Quebec", "America/Toronto"),
    // Standard time all year (Lloydminster aside).
    ("SK", "Saskatchewan", "America/Regina"),
    ("YT", "Yukon", "America/Whitehorse"),
    ("NT", "Northwest Territories", "America/Yellowknife"),
    // Spans four zones; most people are in the east (Iqaluit).
    ("NU", "Nunavut", "America/Iqaluit"),
];

/// Other names people write for a state: (name, code). Compared after `normalize`.
static STATE_ALIASES: &[(&str, &str)] = &[
    ("Washington DC", "DC"),
    ("Virgin Islands", "VI"),
    ("Québec", "QC"),
    ("Newfoundland", "NL"),
    ("Yukon Territory", "YT"),
    ("Northwest Territory", "NT"),
];

/// ZIP sectional centers (first three digits) by state: (first, last, state code), sorted, not overlapping.
/// Prefixes not here are unused or military (APO/FPO, which has no local time).
static ZIP_PREFIX_STATES: &[(u16, u16, &str)] = &[
    (5, 5, "NY"),
    (6, 7, "PR"),
    (8, 8, "VI"),
    (9, 9, "PR"),
    (10, 27, "MA"),
    (28, 29, "RI"),
    (30, 38, "NH"),
    (39, 49, "ME"),
    (50, 54, "VT"),
    (55, 55, "MA"),
    (56, 59, "VT"),
    (60, 69, "CT"),
    (70, 89, "NJ"),
    (100, 149, "NY"),
    (150, 196, "PA"),
    (197, 199, "DE"),
    (200, 200, "DC"),
    (201, 201, "VA"),
    (202, 205, "DC"),
    (206, 212, "MD"),
    (214, 219, "MD"),
    (220, 246, "VA"),
    (247, 268, "WV"),
    (270, 289, "NC"),
    (290, 299, "SC"),
    (300, 319, "GA"),
    (320, 339, "FL"),
    (341, 342, "FL"),
    (344, 344, "FL"),
    (346, 347, "FL"),
    (349, 349, "FL"),
    (350, 352, "AL"),
    (354, 369, "AL"),
    (370, 385, "TN"),
    (386, 397, "MS"),
    (398, 399, "GA"),
    (400, 418, "KY"),
    (420, 427, "KY"),
    (430, 459, "OH"),
    (460, 479, "IN"),
    (480, 499, "MI"),
    (500, 516, "IA"),
    (520, 528, "IA"),
    (530, 532, "WI"),
    (534, 535, "WI"),
    (537, 549, "WI"),
    (550, 551, "MN"),
    (553, 567, "MN"),
    (569, 569, "DC"),
    (570, 577, "SD"),
    (580, 588, "ND"),
    (590, 599, "MT"),
    (600, 620, "IL"),
    (622, 629, "IL"),
    (630, 631, "MO"),
    (633, 641, "MO"),
    (644, 658, "MO"),
    (660, 662, "KS"),
    (664, 679, "KS"),
    (680, 681, "NE"),
    (683, 693, "NE"),
    (700, 701, "LA"),
    (703, 708, "LA"),
    (710, 714, "LA"),
    (716, 729, "AR"),
    (730, 731, "OK"),
    (733, 733, "TX"),
    (734, 741, "OK"),
    (743, 749, "OK"),
    (750, 770, "TX"),
    (772, 799, "TX"),
    (800, 816, "CO"),
    (820, 831, "WY"),
    (832, 838, "ID"),
    (840, 847, "UT"),
    (850, 853, "AZ"),
    (855, 857, "AZ"),
    (859, 860, "AZ"),
    (863, 865, "AZ"),
    (870, 871, "NM"),
    (873, 884, "NM"),
    (885, 885, "TX"),
    (888, 888, "DC"),
    (889, 891, "NV"),
    (893, 895, "NV"),
    (897, 898, "NV"),
    (900, 908, "CA"),
    (910, 928, "CA"),
    (930, 961, "CA"),
    (967, 968, "HI"),
    // Guam, with the Northern Marianas, Palau, Micronesia and the Marshalls.
    (969, 969, "GU"),
    (970, 979, "OR"),
    (980, 986, "WA"),
    (988, 994, "WA"),
    (995, 999, "AK"),
];

/// ZIP prefixes whose people mostly live in another zone than their state's: (prefix, zone), sorted.
static ZIP_PREFIX_ZONES_OFF_STATE: &[(u16, &str)] = &[
    // Florida panhandle: Panama City, Pensacola.
    (324, "America/Chicago"),
    (325, "America/Chicago"),
    // East Tennessee: Chattanooga's suburbs and Cleveland (373), Chattanooga (374), Johnson City and
    // Kingsport (376), Knoxville (377-379).
    (373, "America/New_York"),
    (374, "America/New_York"),
    (376, "America/New_York"),
    (377, "America/New_York"),
    (378, "America/New_York"),
    (379, "America/New_York"),
    // West Kentucky: Paducah, Bowling Green, Owensboro, Hopkinsville.
    (420, "America/Chicago"),
    (421, "America/Chicago"),
    (422, "America/Chicago"),
    (423, "America/Chicago"),
    (424, "America/Chicago"),
    // Northwest Indiana: Gary, Hammond.
    (463, "America/Chicago"),
    (464, "America/Chicago"),
    // Southwest Indiana: Evansville.
    (476, "America/Chicago"),
    (477, "America/Chicago"),
    // West South Dakota: Mobridge and the reservations west of the Missouri (576), Rapid City (577).
    (576, "America/Denver"),
    (577, "America/Denver"),
    // Southwest North Dakota: Dickinson.
    (586, "America/Denver"),
    // Nebraska panhandle: Alliance, Scottsbluff.
    (693, "America/Denver"),
    // El Paso and Hudspeth counties.
    (798, "America/Denver"),
    (799, "America/Denver"),
    // North Idaho: Lewiston, Coeur d'Alene.
    (835, "America/Los_Angeles"),
    (838, "America/Los_Angeles"),
    // The Navajo Nation (Window Rock, Chinle) keeps daylight time; the rest of Arizona does not.
    (865, "America/Denver"),
    (885, "America/Denver"),
    // Malheur county, Oregon: Ontario.
    (979, "America/Boise"),
];

/// Whole ZIP codes whose place differs from their prefix's: (ZIP, zone), sorted.
static ZIP_ZONES: &[(u32, &str)] = &[
    // American Samoa (under Hawaii's 967).
    (96799, "Pacific/Pago_Pago"),
    // Saipan, Rota, Tinian (under Guam's 969).
    (96950, "Pacific/Saipan"),
    (96951, "Pacific/Saipan"),
    (96952, "Pacific/Saipan"),
];

/// Geographic NANP area codes in service, by state, province or territory: (code, area codes).
static AREA_CODES: &[(&str, &[u16])] = &[
    // Alabama
    ("AL", &[205, 251, 256, 334, 659, 938]),
    // Alaska
    ("AK", &[907]),
    // Arizona
    ("AZ", &[480, 520, 602, 623, 928]),
    // Arkansas
    ("AR", &[327, 479, 501, 870]),
    // California
    (
        "CA",
        &[
            209, 213, 279, 310, 323, 341, 350, 369, 408, 415, 424, 442, 510, 530, 559, 562, 619, 626, 628,
            650, 657, 661, 669, 707, 714, 738, 747, 760, 805, 818, 820, 831, 840, 858, 909, 916, 925, 949,
            951,
        ],
    ),
    // Colorado
    ("CO", &[303, 719, 720, 748, 970, 983]),
    // Connecticut
    ("CT", &[203, 475, 860, 959]),
    // Delaware
    ("DE", &[302]),
    // District of Columbia
    ("DC", &[202, 771]),
    // Florida (850 and its overlay 448: see AREA_CODE_ZONES_OFF_STATE)
    (
        "FL",
        &[
            239, 305, 321, 324, 352, 386, 407, 448, 561, 645, 656, 689, 727, 728, 754, 772, 786, 813, 850,
            863, 904, 941, 954,
        ],
    ),
    // Georgia
    ("GA", &[229, 404, 470, 478, 678, 706, 762, 770, 912, 943]),
    // Hawaii
    ("HI", &[808]),
    // Idaho
    ("ID", &[208, 986]),
    // Illinois
    ("IL", &[217, 224, 309, 312, 331, 447, 464, 618, 630, 708, 730, 773, 779, 815, 847, 872]),
    // Indiana (219: see AREA_CODE_ZONES_OFF_STATE; 812/930 are mostly Eastern though Evansville is Central)
    ("IN", &[219, 260, 317, 463, 574, 765, 812, 930]),
    // Iowa
    ("IA", &[319, 515, 563, 641, 712]),
    // Kansas
    ("KS", &[316, 620, 785, 913]),
    // Kentucky (270 and its overlay 364: see AREA_CODE_ZONES_OFF_STATE)
    ("KY", &[270, 364, 502, 606, 859]),
    // Louisiana
    ("LA", &[225, 318, 337, 504, 985]),
    // Maine
    ("ME", &[207]),
    // Maryland
    ("MD", &[227, 240, 301, 410, 443, 667]),
    // Massachusetts
    ("MA", &[339, 351, 413, 508, 617, 774, 781, 857, 978]),
    // Michigan
    ("MI", &[231, 248, 269, 313, 517, 586, 616, 734, 810, 906, 947, 989]),
    // Minnesota
    ("MN", &[218, 320, 507, 612, 651, 763, 952]),
    // Mississippi
    ("MS", &[228, 601, 662, 769]),
    // Missouri
    ("MO", &[235, 314, 417, 557, 573, 636, 660, 816, 975]),
    // Montana
    ("MT", &[406]),
    // Nebraska
    ("NE", &[308, 402, 531]),
    // Nevada
    ("NV", &[702, 725, 775]),
    // New Hampshire
    ("NH", &[603]),
    // New Jersey
    ("NJ", &[201, 551, 609, 640, 732, 848, 856, 862, 908, 973]),
    // New Mexico
    ("NM", &[505, 575]),
    // New York
    (
        "NY",
        &[
            212, 315, 329, 332, 347, 363, 516, 518, 585, 607, 631, 646, 680, 716, 718, 838, 845, 914, 917,
            929, 934,
        ],
    ),
    // North Carolina
    ("NC", &[252, 336, 472, 704, 743, 828, 910, 919, 980, 984]),
    // North Dakota
    ("ND", &[701]),
    // Ohio
    ("OH", &[216, 220, 234, 283, 326, 330, 380, 419, 440, 513, 567, 614, 740, 937]),
    // Oklahoma
    ("OK", &[405, 539, 572, 580, 918]),
    // Oregon
    ("OR", &[458, 503, 541, 971]),
    // Pennsylvania
    ("PA", &[215, 223, 267, 272, 412, 445, 484, 570, 582, 610, 717, 724, 814, 835, 878]),
    // Rhode Island
    ("RI", &[401]),
    // South Carolina
    ("SC", &[803, 821, 839, 843, 854, 864]),
    // South Dakota
    ("SD", &[605]),
    // Tennessee (423 and 865: see AREA_CODE_ZONES_OFF_STATE)
    ("TN", &[423, 615, 629, 731, 865, 901, 931]),
    // Texas (915: see AREA_CODE_ZONES_OFF_STATE)
    (
        "TX",
        &[
            210, 214, 254, 281, 325, 346, 361, 409, 430, 432, 469, 512, 682, 713, 726, 737, 806, 817, 830,
            832, 903, 915, 936, 940, 945, 956, 972, 979,
        ],
    ),
    // Utah
    ("UT", &[385, 435, 801]),
    // Vermont
    ("VT", &[802]),
    // Virginia
    ("VA", &[276, 434, 540, 571, 686, 703, 757, 804, 826, 948]),
    // Washington
    ("WA", &[206, 253, 360, 425, 509, 564]),
    // West Virginia
    ("WV", &[304, 681]),
    // Wisconsin
    ("WI", &[262, 274, 353, 414, 534, 608, 715, 920]),
    // Wyoming
    ("WY", &[307]),
    // Puerto Rico
    ("PR", &[787, 939]),
    // U.S. Virgin Islands
    ("VI", &[340]),
    // Guam
    ("GU", &[671]),
    // Northern Mariana Islands
    ("MP", &[670]),
    // American Samoa
    ("AS", &[684]),
    // Alberta
    ("AB", &[368, 403, 587, 780, 825]),
    // British Columbia
    ("BC", &[236, 250, 257, 604, 672, 778]),
    // Manitoba
    ("MB", &[204, 431, 584]),
    // New Brunswick
    ("NB", &[428, 506]),
    // Newfoundland and Labrador
    ("NL", &[709, 879]),
    // Nova Scotia, with Prince Edward Island (same zone)
    ("NS", &[782, 902]),
    // Ontario
    ("ON", &[226, 249, 289, 343, 365, 382, 416, 437, 519, 548, 613, 647, 683, 705, 742, 753, 807, 905, 942]),
    // Quebec
    ("QC", &[263, 273, 354, 367, 418, 438, 450, 468, 514, 579, 581, 819, 873]),
    // Saskatchewan
    ("SK", &[306, 474, 639]),
    // Yukon, Northwest Territories and Nunavut share 867; Whitehorse is its largest city.
    ("YT", &[867]),
];

/// Area codes whose people mostly live in another zone than their state's: (area code, zone), sorted.
static AREA_CODE_ZONES_OFF_STATE: &[(u16, &str)] = &[
    // Northwest Indiana: Gary, Hammond, Valparaiso, Michigan City.
    (219, "America/Chicago"),
    // West Kentucky: Bowling Green, Owensboro, Paducah.
    (270, "America/Chicago"),
    (364, "America/Chicago"),
    // East Tennessee: Chattanooga, Tri-Cities (423), Knoxville (865).
    (423, "America/New_York"),
    // Florida panhandle: more people around Pensacola, Fort Walton Beach and Panama City than Tallahassee.
    (448, "America/Chicago"),
    (850, "America/Chicago"),
    (865, "America/New_York"),
    // El Paso.
    (915, "America/Denver"),
];

/// NANP area codes outside the US and Canada: (area code, zone), sorted.
static OTHER_NANP_AREA_CODES: &[(u16, &str)] = &[
    (242, "America/Nassau"),        // Bahamas
    (246, "America/Barbados"),      // Barbados
    (264, "America/Anguilla"),      // Anguilla
    (268, "America/Antigua"),       // Antigua and Barbuda
    (284, "America/Tortola"),       // British Virgin Islands
    (345, "America/Cayman"),        // Cayman Islands
    (441, "Atlantic/Bermuda"),      // Bermuda
    (473, "America/Grenada"),       // Grenada
    (649, "America/Grand_Turk"),    // Turks and Caicos
    (658, "America/Jamaica"),       // Jamaica
    (664, "America/Montserrat"),    // Montserrat
    (721, "America/Lower_Princes"), // Sint Maarten
    (758, "America/St_Lucia"),      // Saint Lucia
    (767, "America/Dominica"),      // Dominica
    (784, "America/St_Vincent"),    // Saint Vincent and the Grenadines
    (809, "America/Santo_Domingo"), // Dominican Republic
    (829, "America/Santo_Domingo"), // Dominican Republic
    (849, "America/Santo_Domingo"), // Dominican Republic
    (868, "America/Port_of_Spain"), // Trinidad and Tobago
    (869, "America/St_Kitts"),      // Saint Kitts and Nevis
    (876, "America/Jamaica"),       // Jamaica
];

/// The IANA zone of a US state, DC or territory, or a Canadian province or territory, by postal code or
/// name, any case, trimmed ("IL", "il", "Illinois", " new york ", "Ontario"). A state spanning two zones
/// gets the zone most of its people live in.
pub fn state_zone(state: &str) -> Option<&'static str> {
    let wanted = normalize(state);
    let by_alias =
        STATE_ALIASES.iter().find(|&&(alias, _)| normalize(alias) == wanted).map(|&(_, code)| code);
    let code = by_alias.or_else(|| {
        let found = STATES
            .iter()
            .find(|&&(code, name, _)| code.eq_ignore_ascii_case(&wanted) || normalize(name) == wanted);
        found.map(|&(code, _, _)| code)
    })?;
    zone_of_code(code)
}

/// The IANA zone of a US ZIP code ("60614", "60614-1234", " 02134 "): its sectional center's state's zone,
/// or the sectional center's own where most of its people are in another. None for anything that is not
/// 5 digits (optionally followed by -4 digits), and for unused or military prefixes.
pub fn zip_zone(zip: &str) -> Option<&'static str> {
    let zip = zip.trim();
    let (five, plus_four) = match zip.split_once('-') {
        Some((five, plus_four)) => (five, Some(plus_four)),
        None => (zip, None),
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(five, 5) || plus_four.is_some_and(|p| !digits(p, 4)) {
        return None;
    }
    let zip5: u32 = five.parse().ok()?;
    if let Ok(i) = ZIP_ZONES.binary_search_by_key(&zip5, |&(zip, _)| zip) {
        return ZIP_ZONES.get(i).map(|&(_, zone)| zone);
    }
    let prefix = u16::try_from(zip5 / 100).ok()?;
    let i = ZIP_PREFIX_STATES
        .binary_search_by(|&(first, last, _)| {
            if last < prefix {
                Ordering::Less
            } else if first > prefix {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        })
        .ok()?;
    if let Ok(j) = ZIP_PREFIX_ZONES_OFF_STATE.binary_search_by_key(&prefix, |&(p, _)| p) {
        return ZIP_PREFIX_ZONES_OFF_STATE.get(j).map(|&(_, zone)| zone);
    }
    ZIP_PREFIX_STATES.get(i).and_then(|&(_, _, state)| zone_of_code(state))
}

/// The IANA zone of a North American (NANP, +1) area code, e.g. 312 → America/Chicago. A code spanning
/// two zones gets the zone most of its people live in. None for non-geographic codes (800, 833, 900, 500,
/// …) and codes not in service or not known here.
pub fn area_code_zone(npa: u16) -> Option<&'static str> {
    let state = AREA_CODES.iter().find(|(_, codes)| codes.contains(&npa)).map(|&(state, _)| state);
    match state {
        Some(state) => match AREA_CODE_ZONES_OFF_STATE.binary_search_by_key(&npa, |&(code, _)| code) {
            Ok(i) => AREA_CODE_ZONES_OFF_STATE.get(i).map(|&(_, zone)| zone),
            Err(_) => zone_of_code(state),
        },
        None => OTHER_NANP_AREA_CODES
            .binary_search_by_key(&npa, |&(code, _)| code)
            .ok()
            .and_then(|i| OTHER_NANP_AREA_CODES.get(i))
            .map(|&(_, zone)| zone),
    }
}

/// The zone of a state by its exact code as written in `STATES`.
fn zone_of_code(code: &str) -> Option<&'static str> {
    STATES.iter().find(|&&(c, _, _)| c == code).map(|&(_, _, zone)| zone)
}

/// Lower case, dots dropped, commas as spaces, runs of white space as one space, trimmed.
fn normalize(s: &str) -> String {
    let cleaned: String = s.chars().filter(|&c| c != '.').map(|c| if c == ',' { ' ' } else { c }).collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Every zone the tables may name: a typo in a table fails `zones_are_known`.
    const KNOWN_ZONES: &[&str] = &[
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Phoenix",
        "America/Los_Angeles",
        "America/Boise",
        "America/Detroit",
        "America/Indiana/Indianapolis",
        "America/Anchorage",
        "Pacific/Honolulu",
        "America/Puerto_Rico",
        "America/St_Thomas",
        "Pacific/Guam",
        "Pacific/Pago_Pago",
        "Pacific/Saipan",
        "America/Toronto",
        "America/Vancouver",
        "America/Edmonton",
        "America/Winnipeg",
        "America/Regina",
        "America/Halifax",
        "America/Moncton",
        "America/St_Johns",
        "America/Whitehorse",
        "America/Yellowknife",
        "America/Iqaluit",
        "America/Nassau",
        "America/Barbados",
        "America/Anguilla",
        "America/Antigua",
        "America/Tortola",
        "America/Cayman",
        "Atlantic/Bermuda",
        "America/Grenada",
        "America/Grand_Turk",
        "America/Jamaica",
        "America/Montserrat",
        "America/Lower_Princes",
        "America/St_Lucia",
        "America/Dominica",
        "America/St_Vincent",
        "America/Santo_Domingo",
        "America/Port_of_Spain",
        "America/St_Kitts",
    ];

    const NON_GEOGRAPHIC: &[u16] =
        &[500, 533, 544, 566, 577, 588, 600, 622, 633, 700, 710, 800, 833, 844, 855, 866, 877, 888, 900];

    #[test]
    fn states_spanning_zones_territories_and_provinces() {
        let cases = [
            ("IL", "America/Chicago"),
            ("TX", "America/Chicago"),
            ("FL", "America/New_York"),
            ("IN", "America/Indiana/Indianapolis"),
            ("KY", "America/New_York"),
            ("TN", "America/Chicago"),
            ("MI", "America/Detroit"),
            ("ND", "America/Chicago"),
            ("SD", "America/Chicago"),
            ("NE", "America/Chicago"),
            ("KS", "America/Chicago"),
            ("OR", "America/Los_Angeles"),
            ("ID", "America/Boise"),
            ("AZ", "America/Phoenix"),
            ("HI", "Pacific/Honolulu"),
            ("AK", "America/Anchorage"),
            ("PR", "America/Puerto_Rico"),
            ("VI", "America/St_Thomas"),
            ("GU", "Pacific/Guam"),
            ("AS", "Pacific/Pago_Pago"),
            ("MP", "Pacific/Saipan"),
            ("ON", "America/Toronto"),
            ("QC", "America/Toronto"),
            ("BC", "America/Vancouver"),
            ("AB", "America/Edmonton"),
            ("MB", "America/Winnipeg"),
            ("SK", "America/Regina"),
            ("NS", "America/Halifax"),
            ("NB", "America/Moncton"),
            ("NL", "America/St_Johns"),
            ("PE", "America/Halifax"),
            ("YT", "America/Whitehorse"),
            ("NT", "America/Yellowknife"),
            ("NU", "America/Iqaluit"),
        ];
        for (state, zone) in cases {
            assert_eq!(state_zone(state), Some(zone), "{state}");
        }
    }

    #[test]
    fn states_by_code_and_name_in_any_case() {
        for input in ["IL", "il", "Il", " IL ", "Illinois", "illinois", "ILLINOIS", "  illinois\t"] {
            assert_eq!(state_zone(input), Some("America/Chicago"), "{input:?}");
        }
        for input in ["NY", "ny", "New York", " new york ", "NEW  YORK"] {
            assert_eq!(state_zone(input), Some("America/New_York"), "{input:?}");
        }
        assert_eq!(state_zone("dc"), Some("America/New_York"));
        assert_eq!(state_zone("District of Columbia"), Some("America/New_York"));
        assert_eq!(state_zone("Washington, D.C."), Some("America/New_York"));
        assert_eq!(state_zone("Washington"), Some("America/Los_Angeles"));
        assert_eq!(state_zone("u.s. virgin islands"), Some("America/St_Thomas"));
        assert_eq!(state_zone("british columbia"), Some("America/Vancouver"));
        assert_eq!(state_zone("Québec"), Some("America/Toronto"));
        assert_eq!(state_zone("QUÉBEC"), Some("America/Toronto"));
        assert_eq!(state_zone("newfoundland and labrador"), Some("America/St_Johns"));
        assert_eq!(state_zone("Prince Edward Island"), Some("America/Halifax"));
        assert_eq!(state_zone("Northwest Territories"), Some("America/Yellowknife"));
        for input in ["", "  ", "XX", "Ill", "Atlantis", "AE", "AP"] {
            assert_eq!(state_zone(input), None, "{input:?}");
        }
    }

    #[test]
    fn every_state_by_code_and_name() {
        for &(code, name, zone) in STATES {
            assert_eq!(state_zone(code), Some(zone), "{code}");
            assert_eq!(state_zone(&code.to_lowercase()), Some(zone), "{code}");
            assert_eq!(state_zone(name), Some(zone), "{name}");
            assert_eq!(state_zone(&name.to_uppercase()), Some(zone), "{name}");
        }
    }

    #[test]
    fn zips_in_sectional_centers_off_their_state() {
        let cases = [
            ("60614", "America/Chicago"),
            ("02134", "America/New_York"),
            ("32401", "America/Chicago"),     // Panama City FL (324)
            ("32501", "America/Chicago"),     // Pensacola FL (325)
            ("79901", "America/Denver"),      // El Paso TX (799)
            ("79821", "America/Denver"),      // Anthony TX (798)
            ("88510", "America/Denver"),      // El Paso TX (885)
            ("42001", "America/Chicago"),     // Paducah KY (420)
            ("42101", "America/Chicago"),     // Bowling Green KY (421)
            ("42201", "America/Chicago"),     // (422)
            ("42301", "America/Chicago"),     // Owensboro KY (423)
            ("42420", "America/Chicago"),     // Henderson KY (424)
            ("37402", "America/New_York"),    // Chattanooga TN (374)
            ("37601", "America/New_York"),    // Johnson City TN (376)
            ("37701", "America/New_York"),    // (377)
            ("37801", "America/New_York"),    // (378)
            ("37902", "America/New_York"),    // Knoxville TN (379)
            ("83501", "America/Los_Angeles"), // Lewiston ID (835)
            ("83814", "America/Los_Angeles"), // Coeur d'Alene ID (838)
            ("97914", "America/Boise"),       // Ontario OR (979)
            ("69301", "America/Denver"),      // Alliance NE (693)
            ("58601", "America/Denver"),      // Dickinson ND (586)
            ("57701", "America/Denver"),      // Rapid City SD (577)
        ];
        for (zip, zone) in cases {
            assert_eq!(zip_zone(zip), Some(zone), "{zip}");
        }
    }

    #[test]
    fn zips_in_split_sectional_centers_mostly_on_state_time() {
        // Most people of these prefixes live on their state's majority time; see the module doc.
        let cases = [
            ("42701", "America/New_York"), // Elizabethtown KY (427): Hardin county is Eastern
            ("49855", "America/Detroit"),  // Marquette MI (498): Eastern, as are Escanaba and Houghton
            ("49931", "America/Detroit"),  // Houghton MI (499)
            ("58701", "America/Chicago"),  // Minot ND (587)
            ("58801", "America/Chicago"),  // Williston ND (588)
            ("69001", "America/Chicago"),  // McCook NE (690)
            ("69101", "America/Chicago"),  // North Platte NE (691)
            ("69201", "America/Chicago"),  // Valentine NE (692)
            ("67701", "America/Chicago"),  // Colby KS (677)
            ("67801", "America/Chicago"),  // Dodge City KS (678)
            ("67901", "America/Chicago"),  // Liberal KS (679)
        ];
        for (zip, zone) in cases {
            assert_eq!(zip_zone(zip), Some(zone), "{zip}");
        }
    }

    #[test]
    fn other_zips() {
        let cases = [
            ("10001", "America/New_York"),
            ("90210", "America/Los_Angeles"),
            ("80202", "America/Denver"),
            ("85004", "America/Phoenix"),
            ("86515", "America/Denver"), // Window Rock AZ, Navajo Nation
            ("83702", "America/Boise"),
            ("46204", "America/Indiana/Indianapolis"),
            ("46320", "America/Chicago"), // Hammond IN
            ("47708", "America/Chicago"), // Evansville IN
            ("48226", "America/Detroit"),
            ("99501", "America/Anchorage"),
            ("96813", "Pacific/Honolulu"),
            ("00901", "America/Puerto_Rico"),
            ("00802", "America/St_Thomas"),
            ("96910", "Pacific/Guam"),
            ("96950", "Pacific/Saipan"),
            ("96799", "Pacific/Pago_Pago"),
            ("20500", "America/New_York"),
            ("75201", "America/Chicago"),
            ("00501", "America/New_York"),
        ];
        for (zip, zone) in cases {
            assert_eq!(zip_zone(zip), Some(zone), "{zip}");
        }
    }

    #[test]
    fn zip_forms() {
        for zip in ["60614", "60614-1234", " 60614 ", "\t60614-0000\n"] {
            assert_eq!(zip_zone(zip), Some("America/Chicago"), "{zip:?}");
        }
        assert_eq!(zip_zone(" 02134 "), Some("America/New_York"));
        let bad = [
            "",
            "6061",
            "606140",
            "abcde",
            "60614-12",
            "60614-",
            "60614-12345",
            "60614 1234",
            "606141234",
            "6061a",
            "60614-123a",
            "-60614",
            "６０６１４",
            "+6061",
        ];
        for zip in bad {
            assert_eq!(zip_zone(zip), None, "{zip:?}");
        }
    }

    #[test]
    fn unused_and_military_zip_prefixes() {
        // Unused: 000-004, 213, 343, 872, 987. Military (APO/FPO): 090-098, 340, 962-966.
        for zip in ["00000", "00123", "21301", "34301", "87201", "98701", "09001", "34001", "96201", "96601"]
        {
            assert_eq!(zip_zone(zip), None, "{zip}");
        }
    }

    #[test]
    fn area_code_examples_and_overlays() {
        let cases = [
            (312, "America/Chicago"),
            (212, "America/New_York"),
            (415, "America/Los_Angeles"),
            (808, "Pacific/Honolulu"),
            (907, "America/Anchorage"),
            (602, "America/Phoenix"),
            (416, "America/Toronto"),
            (604, "America/Vancouver"),
            (787, "America/Puerto_Rico"),
            (939, "America/Puerto_Rico"),
            (872, "America/Chicago"),
            (332, "America/New_York"),
            (726, "America/Chicago"),
            (945, "America/Chicago"),
        ];
        for (npa, zone) in cases {
            assert_eq!(area_code_zone(npa), Some(zone), "{npa}");
        }
    }

    #[test]
    fn area_codes_off_their_state() {
        let cases = [
            (219, "America/Chicago"),
            (270, "America/Chicago"),
            (364, "America/Chicago"),
            (423, "America/New_York"),
            (865, "America/New_York"),
            (915, "America/Denver"),
            (850, "America/Chicago"),
            (448, "America/Chicago"),
            (812, "America/Indiana/Indianapolis"),
            (317, "America/Indiana/Indianapolis"),
            (615, "America/Chicago"),
            (713, "America/Chicago"),
            (305, "America/New_York"),
            (502, "America/New_York"),
            (906, "America/Detroit"),
            (208, "America/Boise"),
            (541, "America/Los_Angeles"),
            (306, "America/Regina"),
            (709, "America/St_Johns"),
            (867, "America/Whitehorse"),
            (340, "America/St_Thomas"),
            (671, "Pacific/Guam"),
            (670, "Pacific/Saipan"),
            (684, "Pacific/Pago_Pago"),
            (876, "America/Jamaica"),
            (809, "America/Santo_Domingo"),
        ];
        for (npa, zone) in cases {
            assert_eq!(area_code_zone(npa), Some(zone), "{npa}");
        }
    }

    #[test]
    fn non_geographic_and_unknown_area_codes() {
        for &npa in NON_GEOGRAPHIC {
            assert_eq!(area_code_zone(npa), None, "{npa}");
        }
        for npa in [0, 1, 100, 199, 211, 311, 411, 555, 611, 711, 811, 911, 999, 1000, u16::MAX] {
            assert_eq!(area_code_zone(npa), None, "{npa}");
        }
    }

    #[test]
    fn zones_are_known() {
        let known: HashSet<&str> = KNOWN_ZONES.iter().copied().collect();
        let mut used: Vec<&str> = STATES.iter().map(|&(_, _, zone)| zone).collect();
        used.extend(ZIP_PREFIX_ZONES_OFF_STATE.iter().map(|&(_, zone)| zone));
        used.extend(ZIP_ZONES.iter().map(|&(_, zone)| zone));
        used.extend(AREA_CODE_ZONES_OFF_STATE.iter().map(|&(_, zone)| zone));
        used.extend(OTHER_NANP_AREA_CODES.iter().map(|&(_, zone)| zone));
        for zone in used {
            assert!(known.contains(zone), "unknown zone {zone}");
        }
    }

    #[test]
    fn states_are_unique_and_referenced_states_exist() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for &(code, name, _) in STATES {
            assert!(code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()), "{code}");
            assert!(codes.insert(code), "duplicate state code {code}");
            assert!(names.insert(normalize(name)), "duplicate state name {name}");
        }
        for &(alias, code) in STATE_ALIASES {
            assert!(codes.contains(code), "alias {alias} to unknown {code}");
            assert!(names.insert(normalize(alias)), "alias {alias} is already a name or alias");
        }
        for &(_, _, state) in ZIP_PREFIX_STATES {
            assert!(codes.contains(state), "ZIP table names unknown state {state}");
        }
        for &(state, _) in AREA_CODES {
            assert!(codes.contains(state), "area-code table names unknown state {state}");
        }
    }

    #[test]
    fn zip_tables_are_sorted_and_disjoint() {
        let mut previous_last = None;
        for &(first, last, state) in ZIP_PREFIX_STATES {
            assert!(first <= last && last <= 999, "{first}-{last} {state}");
            if let Some(previous) = previous_last {
                assert!(first > previous, "{first}-{last} {state} overlaps or is out of order");
            }
            previous_last = Some(last);
        }
        assert!(ZIP_PREFIX_ZONES_OFF_STATE.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(ZIP_ZONES.windows(2).all(|w| w[0].0 < w[1].0), "ZIP_ZONES must be sorted");
        for &(prefix, zone) in ZIP_PREFIX_ZONES_OFF_STATE {
            let state = ZIP_PREFIX_STATES.iter().find(|&&(first, last, _)| first <= prefix && prefix <= last);
            let state = state.map(|&(_, _, state)| state);
            assert!(state.is_some(), "off-state prefix {prefix} is not a used prefix");
            assert_ne!(state.and_then(zone_of_code), Some(zone), "prefix {prefix} needs no exception");
        }
    }

    #[test]
    fn area_code_tables_have_no_duplicates_and_are_sorted() {
        let mut seen = HashSet::new();
        for &(state, codes) in AREA_CODES {
            assert!(codes.windows(2).all(|w| w[0] < w[1]), "{state}: codes not sorted");
            for &npa in codes {
                assert!((200..=999).contains(&npa), "{state}: {npa}");
                assert!(!NON_GEOGRAPHIC.contains(&npa), "{state}: {npa} is not geographic");
                assert!(seen.insert(npa), "duplicate area code {npa}");
            }
        }
        for &(npa, _) in OTHER_NANP_AREA_CODES {
            assert!(seen.insert(npa), "duplicate area code {npa}");
        }
        assert!(OTHER_NANP_AREA_CODES.windows(2).all(|w| w[0].0 < w[1].0), "OTHER_NANP_AREA_CODES unsorted");
        assert!(AREA_CODE_ZONES_OFF_STATE.windows(2).all(|w| w[0].0 < w[1].0), "off-state table unsorted");
        for &(npa, zone) in AREA_CODE_ZONES_OFF_STATE {
            let state = AREA_CODES.iter().find(|(_, codes)| codes.contains(&npa)).map(|&(state, _)| state);
            assert!(state.is_some(), "off-state area code {npa} is in no state");
            assert_ne!(state.and_then(zone_of_code), Some(zone), "area code {npa} needs no exception");
        }
    }
}
