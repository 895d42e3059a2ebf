//! The vocabulary: action verbs, directions, units, speed words, number words, the words that carry no meaning for
//! the planner, and the words that change an instruction's meaning in ways it cannot plan (negations, repetitions,
//! exceptions), which are refused rather than ignored.

use glam::DVec3;

use super::StageKind;

/// Named speeds: (words, name, linear m/s, angular rad/s: 7.5, 15, 30 or 60 °/s).
pub(super) const SPEED_WORDS: &[(&str, &str, f64, f64)] = &[
    ("very slowly", "very slow", 0.01, 0.130_899_693_899_574_7),
    ("very slow", "very slow", 0.01, 0.130_899_693_899_574_7),
    ("slowly", "slow", 0.02, 0.261_799_387_799_149_4),
    ("slow", "slow", 0.02, 0.261_799_387_799_149_4),
    ("gently", "slow", 0.02, 0.261_799_387_799_149_4),
    ("carefully", "slow", 0.02, 0.261_799_387_799_149_4),
    ("quickly", "fast", 0.10, 1.047_197_551_196_597_7),
    ("fast", "fast", 0.10, 1.047_197_551_196_597_7),
    ("rapidly", "fast", 0.10, 1.047_197_551_196_597_7),
    ("swiftly", "fast", 0.10, 1.047_197_551_196_597_7),
    ("normally", "normal", 0.05, 0.523_598_775_598_298_8),
];

pub(super) fn is_speed_word(word: &str) -> bool {
    SPEED_WORDS.iter().any(|(w, ..)| *w == word || w.split(' ').next() == Some(word))
}

pub(super) fn number_word(word: &str) -> Option<f64> {
    const SMALL: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    if let Some(i) = SMALL.iter().position(|w| *w == word) {
        return Some(i as f64);
    }
    if let Some(i) = TENS.iter().position(|w| *w == word) {
        return Some(20.0 + 10.0 * i as f64);
    }
    match word {
        "hundred" => Some(100.0),
        _ => None,
    }
}

pub(super) fn verb(word: &str) -> Option<StageKind> {
    Some(match word {
        "approach" | "reach" => StageKind::Approach,
        "grasp" | "grab" | "grip" | "close" | "seize" | "pinch" | "clamp" => StageKind::Grasp,
        "lift" | "raise" | "pick" | "hoist" | "elevate" => StageKind::Lift,
        "rotate" | "turn" | "twist" | "spin" | "tilt" | "roll" => StageKind::Rotate,
        "move" | "slide" | "shift" | "push" | "pull" | "carry" | "bring" | "drag" | "nudge" | "translate" | "go"
        | "lower" | "descend" | "take" => StageKind::Move,
        "place" | "put" | "set" | "deposit" => StageKind::Place,
        "release" | "open" | "drop" | "let" | "ungrasp" => StageKind::Release,
        "wait" | "pause" | "hold" => StageKind::Wait,
        _ => return None,
    })
}

/// A base-frame direction word: x forward, y left, z up. "Toward(s)" is not one on its own: what it points at
/// decides (see the clause reader).
pub(super) fn direction(word: &str) -> Option<(DVec3, &'static str)> {
    Some(match word {
        "left" | "leftward" | "leftwards" => (DVec3::Y, "left"),
        "right" | "rightward" | "rightwards" => (DVec3::NEG_Y, "right"),
        "forward" | "forwards" | "ahead" | "away" | "outward" | "outwards" => (DVec3::X, "forward"),
        "back" | "backward" | "backwards" | "inward" | "inwards" => (DVec3::NEG_X, "back"),
        "up" | "upward" | "upwards" | "higher" => (DVec3::Z, "up"),
        "down" | "downward" | "downwards" => (DVec3::NEG_Z, "down"),
        _ => return None,
    })
}

pub(super) fn length_unit(word: &str) -> Option<f64> {
    Some(match word {
        "mm" | "millimeter" | "millimeters" | "millimetre" | "millimetres" => 0.001,
        "cm" | "centimeter" | "centimeters" | "centimetre" | "centimetres" | "cms" => 0.01,
        "m" | "meter" | "meters" | "metre" | "metres" => 1.0,
        "in" | "inch" | "inches" => 0.0254,
        "ft" | "foot" | "feet" => 0.3048,
        _ => return None,
    })
}

pub(super) fn angle_unit(word: &str) -> Option<f64> {
    Some(match word {
        "degree" | "degrees" | "deg" | "degs" => std::f64::consts::PI / 180.0,
        "radian" | "radians" | "rad" | "rads" => 1.0,
        "turn" | "turns" | "revolution" | "revolutions" => std::f64::consts::TAU,
        _ => return None,
    })
}

pub(super) fn time_unit(word: &str) -> Option<f64> {
    Some(match word {
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "ms" | "millisecond" | "milliseconds" => 0.001,
        "min" | "minute" | "minutes" => 60.0,
        _ => return None,
    })
}

/// Whether `word` is a unit of length, angle or time ("a centimetre": one of it). "in" and "m" are too common as
/// other words to count here.
pub(super) fn is_unit(word: &str) -> bool {
    !matches!(word, "in" | "m" | "s")
        && (length_unit(word).is_some() || angle_unit(word).is_some() || time_unit(word).is_some())
}

/// Words that carry no meaning for the planner.
pub(super) fn filler(word: &str) -> bool {
    matches!(
        word,
        "the"
            | "a"
            | "an"
            | "it"
            | "its"
            | "them"
            | "this"
            | "that"
            | "please"
            | "now"
            | "to"
            | "of"
            | "with"
            | "from"
            | "and"
            | "then"
            | "again"
            | "object"
            | "gripper"
            | "hand"
            | "arm"
            | "robot"
            | "end"
            | "effector"
            | "about"
            | "around"
            | "axis"
            | "own"
            | "so"
            | "is"
            | "in"
            | "for"
            | "over"
            | "at"
            | "speed"
            | "rate"
            | "per"
            | "sideways"
            | "distance"
            | "more"
            | "up"
            | "side"
            | "direction"
            | "exactly"
            | "precisely"
    )
}

/// Words that change what an instruction means in a way the planner cannot follow: each is refused with the reason.
pub(super) fn unsupported(word: &str) -> Option<&'static str> {
    Some(match word {
        "not" | "dont" | "don" | "never" | "no" | "nor" | "avoid" | "without" => {
            "negations are not supported; say only what the arm should do"
        }
        "minus" | "negative" => "negative amounts are not supported; say the direction instead (e.g. '5 cm right')",
        "twice" | "thrice" | "times" | "repeat" | "repeatedly" | "once" => {
            "repetitions are not supported; write each step, joined with 'then'"
        }
        "except" | "unless" | "but" | "instead" | "otherwise" | "or" => {
            "exceptions and alternatives are not supported; say the one thing to do"
        }
        "until" | "while" | "if" | "when" => "conditions are not supported: the planner cannot see; give amounts",
        "almost" | "nearly" | "roughly" | "approximately" | "about" => "",
        _ => return None,
    })
    .filter(|reason| !reason.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_reads_as_expected() {
        assert_eq!(verb("raise"), Some(StageKind::Lift));
        assert_eq!(verb("lower"), Some(StageKind::Move));
        assert_eq!(direction("leftwards").map(|d| d.1), Some("left"));
        assert_eq!(direction("towards"), None, "toward(s) depends on what it points at");
        assert!((length_unit("inches").unwrap() - 0.0254).abs() < 1e-12);
        assert!((angle_unit("turn").unwrap() - std::f64::consts::TAU).abs() < 1e-12);
        assert_eq!(time_unit("ms"), Some(0.001));
        assert!(is_unit("centimetre") && is_unit("degree") && !is_unit("in") && !is_unit("mug"));
        assert_eq!(number_word("forty"), Some(40.0));
        assert!(is_speed_word("very") && is_speed_word("slowly") && !is_speed_word("stealthily"));
        for word in ["not", "minus", "twice", "except", "until", "never"] {
            assert!(unsupported(word).is_some(), "{word}");
        }
        assert!(unsupported("about").is_none(), "'about' introduces an axis");
    }
}
