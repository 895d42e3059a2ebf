//! The first layer: text → tokens (numbers, words, separators) with their byte spans. Number words become numbers
//! ("forty five" → 45, "one hundred and eighty" → 180), "a"/"an" before a unit becomes 1 ("a centimetre"), and a
//! sign written against a digit stays with the number ("-5"), so the layers above can refuse it instead of losing it.

use std::ops::Range;

use super::words::{is_unit, number_word};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Lexeme {
    Number(f64),
    Word(String),
    Separator,
}

#[derive(Clone, Debug)]
pub(super) struct Token {
    pub lexeme: Lexeme,
    pub span: Range<usize>,
}

impl Token {
    pub fn word(&self) -> Option<&str> {
        match &self.lexeme {
            Lexeme::Word(word) => Some(word),
            _ => None,
        }
    }

    pub fn number(&self) -> Option<f64> {
        match self.lexeme {
            Lexeme::Number(value) => Some(value),
            _ => None,
        }
    }
}

fn is_digit_at(chars: &[(usize, char)], i: usize) -> bool {
    chars.get(i).is_some_and(|(_, c)| c.is_ascii_digit())
}

/// Splits `text` into tokens.
pub(super) fn lex(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(text.len(), |(at, _)| *at);
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        // A sign against a digit ("-5", "−5", "+5"), not inside a word ("x-5" is not a sign).
        let signed = matches!(c, '-' | '−' | '+')
            && (is_digit_at(&chars, i + 1)
                || (chars.get(i + 1).is_some_and(|(_, d)| *d == '.') && is_digit_at(&chars, i + 2)))
            && (i == 0 || !chars[i - 1].1.is_alphanumeric());
        if c.is_ascii_digit() || signed || (c == '.' && is_digit_at(&chars, i + 1)) {
            let mut j = if signed { i + 1 } else { i };
            while j < chars.len() && (chars[j].1.is_ascii_digit() || (chars[j].1 == '.' && is_digit_at(&chars, j + 1)))
            {
                j += 1;
            }
            let digits = &text[end_of(if signed { i + 1 } else { i })..end_of(j)];
            let magnitude = digits.parse::<f64>().unwrap_or(f64::NAN);
            let value = if signed && c != '+' { -magnitude } else { magnitude };
            tokens.push(Token { lexeme: Lexeme::Number(value), span: start..end_of(j) });
            i = j;
        } else if c.is_alphabetic() || c == '\'' {
            let mut j = i;
            while j < chars.len() && (chars[j].1.is_alphabetic() || chars[j].1 == '\'' || chars[j].1 == '-') {
                j += 1;
            }
            let raw = text[start..end_of(j)].trim_end_matches('-').to_lowercase();
            let raw = raw.trim_end_matches("'s").replace('\'', "");
            // Split hyphenated number words ("forty-five") but keep "counter-clockwise" whole.
            let parts: Vec<&str> = raw.split('-').filter(|p| !p.is_empty()).collect();
            if parts.len() > 1 && parts.iter().all(|p| number_word(p).is_some()) {
                let mut offset = start;
                for part in parts {
                    tokens.push(Token { lexeme: Lexeme::Word(part.to_owned()), span: offset..offset + part.len() });
                    offset += part.len() + 1;
                }
            } else {
                tokens.push(Token { lexeme: Lexeme::Word(raw.replace('-', "")), span: start..end_of(j) });
            }
            i = j;
        } else if matches!(c, ',' | ';' | '.' | '!' | '\n') {
            tokens.push(Token { lexeme: Lexeme::Separator, span: start..end_of(i + 1) });
            i += 1;
        } else if c == '/' {
            tokens.push(Token { lexeme: Lexeme::Word("per".into()), span: start..end_of(i + 1) });
            i += 1;
        } else if c == '°' {
            tokens.push(Token { lexeme: Lexeme::Word("degrees".into()), span: start..end_of(i + 1) });
            i += 1;
        } else if c == '"' && matches!(tokens.last(), Some(Token { lexeme: Lexeme::Number(_), .. })) {
            tokens.push(Token { lexeme: Lexeme::Word("inches".into()), span: start..end_of(i + 1) });
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            tokens.push(Token { lexeme: Lexeme::Word(c.to_string()), span: start..end_of(i + 1) });
            i += 1;
        }
    }
    merge_number_words(&tokens)
}

/// "forty five" → 45, "one hundred and eighty" → 180, "a hundred" → 100, "a centimetre" → 1 centimetre.
fn merge_number_words(tokens: &[Token]) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let word = tokens[i].word();
        let next = tokens.get(i + 1).and_then(Token::word);
        // "a centimetre" is one centimetre; "half a turn" and "a quarter of a turn" are fractions, read above.
        let after_fraction = i > 0 && matches!(tokens[i - 1].word(), Some("half" | "of" | "quarter"));
        if matches!(word, Some("a" | "an" | "one")) && next.is_some_and(is_unit) && !after_fraction {
            out.push(Token { lexeme: Lexeme::Number(1.0), span: tokens[i].span.clone() });
            i += 1;
            continue;
        }
        let starts_number = word.and_then(number_word).is_some() || (word == Some("a") && next == Some("hundred"));
        if !starts_number {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        let start = tokens[i].span.start;
        let mut end = tokens[i].span.end;
        let mut total = 0.0;
        let mut current = 0.0_f64;
        let mut j = i;
        while j < tokens.len() {
            let word = tokens[j].word().unwrap_or("");
            if word == "a" && j == i {
                current = 1.0;
            } else if word == "hundred" {
                current = current.max(1.0) * 100.0;
                total += current;
                current = 0.0;
            } else if word == "and"
                && j > i
                && tokens.get(j + 1).and_then(Token::word).and_then(number_word).is_some()
                && total > 0.0
            {
                // "one hundred and eighty"
            } else if let Some(value) = number_word(word).filter(|v| *v < 100.0) {
                // "forty five": a unit after a ten; otherwise a new number starts.
                if current > 0.0 && !(current >= 20.0 && current % 10.0 == 0.0 && value < 10.0) {
                    break;
                }
                current += value;
            } else {
                break;
            }
            end = tokens[j].span.end;
            j += 1;
        }
        out.push(Token { lexeme: Lexeme::Number(total + current), span: start..end });
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(text: &str) -> Vec<String> {
        lex(text)
            .into_iter()
            .map(|t| match t.lexeme {
                Lexeme::Number(v) => format!("{v}"),
                Lexeme::Word(w) => w,
                Lexeme::Separator => "|".into(),
            })
            .collect()
    }

    #[test]
    fn numbers_words_units_and_separators() {
        assert_eq!(
            shape("Move 5.5 cm left, then 90° CW."),
            ["move", "5.5", "cm", "left", "|", "then", "90", "degrees", "cw", "|"]
        );
        assert_eq!(shape("forty-five degrees"), ["45", "degrees"]);
        assert_eq!(shape("one hundred and eighty degrees"), ["180", "degrees"]);
        assert_eq!(shape("a hundred mm"), ["100", "mm"]);
        assert_eq!(shape("5 cm/s"), ["5", "cm", "per", "s"]);
        assert_eq!(shape("3\" left"), ["3", "inches", "left"]);
        assert_eq!(shape("the mug's handle"), ["the", "mug", "handle"]);
        assert_eq!(shape("counter-clockwise"), ["counterclockwise"]);
    }

    #[test]
    fn a_or_an_before_a_unit_is_one_and_signs_stay_with_numbers() {
        assert_eq!(shape("a centimetre"), ["1", "centimetre"]);
        assert_eq!(shape("an inch to the left"), ["1", "inch", "to", "the", "left"]);
        assert_eq!(shape("a quarter turn"), ["a", "quarter", "turn"], "not a unit: left for the fraction rule");
        assert_eq!(shape("half a turn"), ["half", "a", "turn"]);
        assert_eq!(shape("a quarter of a turn"), ["a", "quarter", "of", "a", "turn"]);
        assert_eq!(shape("lift the mug"), ["lift", "the", "mug"]);
        assert_eq!(shape("move -5 cm"), ["move", "-5", "cm"]);
        assert_eq!(shape("move −0.5 m"), ["move", "-0.5", "m"]);
        assert_eq!(shape("+90 degrees"), ["90", "degrees"]);
        assert_eq!(shape("x-5"), ["x", "5"], "a dash after a word is no sign");
    }

    #[test]
    fn spans_point_into_the_text() {
        let text = "lift it by 80 mm";
        let tokens = lex(text);
        assert_eq!(&text[tokens[3].span.clone()], "80");
        assert_eq!(&text[tokens[4].span.clone()], "mm");
    }
}
