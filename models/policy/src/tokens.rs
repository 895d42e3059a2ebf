//! The token grammar of a KineVLA-style policy's output.
//!
//! ```text
//! <instr>direction: left; distance: 0.10 m</instr>     instruction-level reasoning (any number, first)
//! <stage>approach</stage> <stage>grasp</stage>         action-level stages (any number, next)
//! <act_c:12> <act_f1:201> <act_f2:7> <act_c:3> …       action tokens, one per level in layout order per chunk
//! ```
//!
//! Level names come from the [`TokenLayout`]: coarse levels are `c` (or `c1`, `c2`, … when there are several), fine
//! levels `f1`, `f2`, …. Nothing about the number of levels, codebook sizes or codes per level is fixed here.
//! As ids, action tokens use the VQ-VLA convention at the end of a vocabulary: `id = vocab − 1 − (code + offset)`,
//! where `offset` is the sum of the codebook sizes of the levels before this one.

use std::fmt;

/// How action tokens are laid out: the levels of the residual quantiser, in order, and how many latent positions
/// each chunk has (one token per level per position).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenLayout {
    pub coarse_levels: usize,
    pub fine_levels: usize,
    /// Codebook size of each level, coarse first (`coarse_levels + fine_levels` entries).
    pub codebook_sizes: Vec<u32>,
    /// Latent positions per action chunk.
    pub positions_per_chunk: usize,
}

impl Default for TokenLayout {
    /// One coarse (goal) level and two fine (kinematic) levels of 256 codes, one position per chunk.
    fn default() -> Self {
        Self { coarse_levels: 1, fine_levels: 2, codebook_sizes: vec![256, 256, 256], positions_per_chunk: 1 }
    }
}

/// Why a layout is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LayoutError {
    #[error("a layout needs at least one level")]
    NoLevels,
    #[error("{levels} levels but {sizes} codebook sizes")]
    SizeCount { levels: usize, sizes: usize },
    #[error("level {level} has an empty codebook")]
    EmptyCodebook { level: String },
    #[error("positions_per_chunk must be at least 1")]
    NoPositions,
}

impl TokenLayout {
    pub fn validate(&self) -> Result<(), LayoutError> {
        let levels = self.levels();
        if levels == 0 {
            return Err(LayoutError::NoLevels);
        }
        if self.codebook_sizes.len() != levels {
            return Err(LayoutError::SizeCount { levels, sizes: self.codebook_sizes.len() });
        }
        if let Some(level) = self.codebook_sizes.iter().position(|size| *size == 0) {
            return Err(LayoutError::EmptyCodebook { level: self.level_name(level) });
        }
        if self.positions_per_chunk == 0 {
            return Err(LayoutError::NoPositions);
        }
        Ok(())
    }

    #[must_use]
    pub fn levels(&self) -> usize {
        self.coarse_levels + self.fine_levels
    }

    #[must_use]
    pub fn tokens_per_chunk(&self) -> usize {
        self.levels() * self.positions_per_chunk
    }

    /// The name used in `<act_NAME:code>`.
    #[must_use]
    pub fn level_name(&self, level: usize) -> String {
        if level < self.coarse_levels {
            if self.coarse_levels == 1 { "c".to_owned() } else { format!("c{}", level + 1) }
        } else {
            format!("f{}", level - self.coarse_levels + 1)
        }
    }

    fn level_from_name(&self, name: &str) -> Option<usize> {
        (0..self.levels()).find(|level| self.level_name(*level) == name)
    }

    /// Level of the `index`-th token of a chunk.
    #[must_use]
    pub fn level_of_token(&self, index_in_chunk: usize) -> usize {
        index_in_chunk % self.levels()
    }

    /// The id of `code` at `level` in a vocabulary of `vocab_size` tokens.
    pub fn token_id(&self, vocab_size: u32, level: usize, code: u32) -> Result<u32, String> {
        let size = *self.codebook_sizes.get(level).ok_or_else(|| format!("level {level} does not exist"))?;
        if code >= size {
            return Err(format!(
                "code {code} is out of range for level {} (codebook of {size})",
                self.level_name(level)
            ));
        }
        let offset: u32 = self.codebook_sizes[..level].iter().sum();
        let total: u32 = self.codebook_sizes.iter().sum();
        if total > vocab_size {
            return Err(format!("a vocabulary of {vocab_size} cannot hold {total} action codes"));
        }
        Ok(vocab_size - 1 - (code + offset))
    }

    /// The (level, code) of an action token id; `None` if the id is not an action token.
    #[must_use]
    pub fn code_from_id(&self, vocab_size: u32, id: u32) -> Option<(usize, u32)> {
        let total: u32 = self.codebook_sizes.iter().sum();
        let back = vocab_size.checked_sub(1)?.checked_sub(id)?;
        if back >= total || total > vocab_size {
            return None;
        }
        let mut offset = 0;
        for (level, size) in self.codebook_sizes.iter().enumerate() {
            if back < offset + size {
                return Some((level, back - offset));
            }
            offset += size;
        }
        None
    }
}

/// A policy's output for one instruction.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyOutput {
    /// Instruction-level reasoning: constraints such as direction, distance, rotation, speed, object part, relation.
    pub instruction_level: Vec<String>,
    /// Action-level reasoning: the stages (approach, grasp, lift, rotate, move, place, release, …).
    pub action_level: Vec<String>,
    /// Action codes per chunk, `tokens_per_chunk` each, position-major then level order.
    pub chunks: Vec<Vec<u32>>,
}

/// A malformed token string: where (the words before it, quoted), what was expected, what was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: expected {expected}, found {found}", place(after))]
pub struct ParseError {
    /// Byte offset into the text.
    pub position: usize,
    /// The text just before the problem (up to 40 characters), for the message.
    pub after: String,
    pub expected: String,
    pub found: String,
}

fn place(after: &str) -> String {
    if after.is_empty() { "at the start".to_owned() } else { format!("after \"{after}\"") }
}

/// Up to 40 characters of `text` before byte `position`, on a character boundary, trimmed.
fn text_before(text: &str, position: usize) -> String {
    let mut start = position.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let before = &text[..start];
    let skip = before.chars().count().saturating_sub(40);
    let tail: String = before.chars().skip(skip).collect();
    let tail = tail.trim();
    if skip > 0 { format!("…{tail}") } else { tail.to_owned() }
}

/// Escapes `<`, `>` and `&` in reasoning text so it cannot be read as a tag.
#[must_use]
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// Writes `output` in the text grammar (the inverse of [`parse`]).
#[must_use]
pub fn render(output: &PolicyOutput, layout: &TokenLayout) -> String {
    let mut parts = Vec::new();
    parts.extend(output.instruction_level.iter().map(|text| format!("<instr>{}</instr>", escape(text))));
    parts.extend(output.action_level.iter().map(|text| format!("<stage>{}</stage>", escape(text))));
    for chunk in &output.chunks {
        for (index, code) in chunk.iter().enumerate() {
            parts.push(format!("<act_{}:{code}>", layout.level_name(layout.level_of_token(index))));
        }
    }
    parts.join(" ")
}

/// What a found item is called in error messages (at most 40 characters of it).
fn describe(rest: &str) -> String {
    if rest.is_empty() {
        return "end of input".to_owned();
    }
    let shown: String = rest.chars().take(40).collect();
    format!("{shown:?}")
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Section {
    Instruction,
    Stages,
    Actions,
}

/// Parses a policy's text output against `layout`. Never panics; every error says where and what was wrong.
pub fn parse(text: &str, layout: &TokenLayout) -> Result<PolicyOutput, ParseError> {
    parse_tokens(text, layout).map_err(|mut error| {
        error.after = text_before(text, error.position);
        error
    })
}

fn parse_tokens(text: &str, layout: &TokenLayout) -> Result<PolicyOutput, ParseError> {
    if let Err(error) = layout.validate() {
        return Err(ParseError {
            position: 0,
            after: String::new(),
            expected: "a valid token layout".into(),
            found: error.to_string(),
        });
    }
    let mut output = PolicyOutput::default();
    let mut section = Section::Instruction;
    let mut chunk: Vec<u32> = Vec::new();
    let mut position = 0;
    let per_chunk = layout.tokens_per_chunk();
    let expected_act = |index: usize| format!("<act_{}:…>", layout.level_name(layout.level_of_token(index)));
    loop {
        let trimmed = text[position..].trim_start();
        position = text.len() - trimmed.len();
        if trimmed.is_empty() {
            break;
        }
        let error = |expected: String, found: String| ParseError { position, after: String::new(), expected, found };
        let allowed = match section {
            Section::Instruction => "<instr>, <stage>, <act_…> or end of input".to_owned(),
            Section::Stages => "<stage>, <act_…> or end of input".to_owned(),
            Section::Actions if chunk.is_empty() => format!("{} or end of input", expected_act(0)),
            Section::Actions => expected_act(chunk.len()),
        };
        if let Some(body) = trimmed.strip_prefix("<instr>").or_else(|| trimmed.strip_prefix("<stage>")) {
            let is_instr = trimmed.starts_with("<instr>");
            let (wanted, closing) =
                if is_instr { (Section::Instruction, "</instr>") } else { (Section::Stages, "</stage>") };
            if section > wanted {
                return Err(error(allowed, describe(trimmed)));
            }
            let Some(end) = body.find(closing) else {
                return Err(ParseError {
                    after: String::new(),
                    position: text.len(),
                    expected: closing.to_owned(),
                    found: "end of input".into(),
                });
            };
            let content = &body[..end];
            if let Some(bad) = content.find(['<', '>']) {
                let at = position + 7 + bad;
                return Err(ParseError {
                    after: String::new(),
                    position: at,
                    expected: format!("text or {closing}"),
                    found: describe(&text[at..]),
                });
            }
            let content = unescape(content.trim());
            if is_instr {
                output.instruction_level.push(content);
            } else {
                output.action_level.push(content);
                section = Section::Stages;
            }
            position += 7 + end + closing.len();
            continue;
        }
        if let Some(body) = trimmed.strip_prefix("<act_") {
            section = Section::Actions;
            let Some(end) = body.find('>') else {
                return Err(ParseError {
                    after: String::new(),
                    position: text.len(),
                    expected: "> closing the action token".into(),
                    found: "end of input".into(),
                });
            };
            let inner = &body[..end];
            let Some((name, digits)) = inner.split_once(':') else {
                return Err(error("<act_LEVEL:CODE>".into(), describe(&trimmed[..end + 6])));
            };
            let expected_level = layout.level_of_token(chunk.len());
            let Some(level) = layout.level_from_name(name) else {
                return Err(error(expected_act(chunk.len()), describe(&trimmed[..end + 6])));
            };
            if level != expected_level {
                return Err(error(expected_act(chunk.len()), describe(&trimmed[..end + 6])));
            }
            let code =
                digits.parse::<u32>().ok().filter(|_| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
            let Some(code) = code else {
                return Err(error(
                    format!("a code 0…{} for level {name}", layout.codebook_sizes[level] - 1),
                    describe(digits),
                ));
            };
            if code >= layout.codebook_sizes[level] {
                return Err(error(
                    format!("a code below {} for level {name}", layout.codebook_sizes[level]),
                    format!("{code} (out of range)"),
                ));
            }
            chunk.push(code);
            if chunk.len() == per_chunk {
                output.chunks.push(std::mem::take(&mut chunk));
            }
            position += 5 + end + 1;
            continue;
        }
        return Err(error(allowed, describe(trimmed)));
    }
    if !chunk.is_empty() {
        return Err(ParseError {
            after: String::new(),
            position: text.len(),
            expected: format!(
                "{} to complete chunk {} ({} of {per_chunk} tokens so far)",
                expected_act(chunk.len()),
                output.chunks.len() + 1,
                chunk.len()
            ),
            found: "end of input".into(),
        });
    }
    Ok(output)
}

impl fmt::Display for PolicyOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} instruction-level item(s), {} stage(s), {} action chunk(s)",
            self.instruction_level.len(),
            self.action_level.len(),
            self.chunks.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> PolicyOutput {
        PolicyOutput {
            instruction_level: vec!["direction: left; distance: 0.10 m".into(), "speed: slow (< 3 cm/s)".into()],
            action_level: vec!["approach".into(), "grasp handle".into(), "lift".into()],
            chunks: vec![vec![12, 201, 7], vec![3, 0, 255]],
        }
    }

    #[test]
    fn text_round_trips() {
        let layout = TokenLayout::default();
        let text = render(&sample(), &layout);
        assert!(
            text.starts_with(
                "<instr>direction: left; distance: 0.10 m</instr> <instr>speed: slow (&lt; 3 cm/s)</instr>"
            )
        );
        assert!(text.ends_with("<act_c:3> <act_f1:0> <act_f2:255>"));
        assert_eq!(parse(&text, &layout).unwrap(), sample());
        assert_eq!(parse("", &layout).unwrap(), PolicyOutput::default());
    }

    #[test]
    fn errors_say_where_what_was_expected_and_what_was_found() {
        let layout = TokenLayout::default();
        let out_of_range = parse("<act_c:12> <act_f1:256> <act_f2:1>", &layout).unwrap_err();
        assert_eq!(out_of_range.position, 11);
        assert_eq!(out_of_range.expected, "a code below 256 for level f1");
        assert_eq!(out_of_range.found, "256 (out of range)");

        let truncated = parse("<act_c:12> <act_f1:20>", &layout).unwrap_err();
        assert_eq!(truncated.position, 22);
        assert!(truncated.expected.contains("<act_f2:…> to complete chunk 1 (2 of 3 tokens so far)"), "{truncated}");
        assert_eq!(truncated.found, "end of input");

        let wrong_level = parse("<act_c:1> <act_f2:2>", &layout).unwrap_err();
        assert_eq!((wrong_level.position, wrong_level.expected.as_str()), (10, "<act_f1:…>"));

        let order = parse("<stage>lift</stage> <instr>up</instr>", &layout).unwrap_err();
        assert_eq!(order.position, 20);
        assert!(order.expected.starts_with("<stage>, <act_…>"), "{order}");
        // The message quotes the words before the problem, not a byte offset.
        assert!(order.to_string().starts_with("after \"<stage>lift</stage>\": expected <stage>"), "{order}");

        let unclosed = parse("<instr>rotate 90 degrees", &layout).unwrap_err();
        assert_eq!((unclosed.expected.as_str(), unclosed.found.as_str()), ("</instr>", "end of input"));

        let junk = parse("hello", &layout).unwrap_err();
        assert_eq!((junk.position, junk.found.as_str()), (0, "\"hello\""));
        assert_eq!(
            junk.to_string(),
            "at the start: expected <instr>, <stage>, <act_…> or end of input, found \"hello\""
        );
    }

    #[test]
    fn layouts_are_configuration_not_constants() {
        let layout =
            TokenLayout { coarse_levels: 2, fine_levels: 1, codebook_sizes: vec![16, 8, 512], positions_per_chunk: 2 };
        let output = PolicyOutput { chunks: vec![vec![15, 7, 511, 0, 0, 0]], ..PolicyOutput::default() };
        let text = render(&output, &layout);
        assert_eq!(text, "<act_c1:15> <act_c2:7> <act_f1:511> <act_c1:0> <act_c2:0> <act_f1:0>");
        assert_eq!(parse(&text, &layout).unwrap(), output);
        assert!(parse("<act_c1:16> <act_c2:0> <act_f1:0>", &layout).is_err());
        assert_eq!(
            TokenLayout { codebook_sizes: vec![1, 0, 1], ..TokenLayout::default() }.validate(),
            Err(LayoutError::EmptyCodebook { level: "f1".into() })
        );
    }

    #[test]
    fn ids_follow_the_vq_vla_convention_and_invert() {
        let layout = TokenLayout::default();
        assert_eq!(layout.token_id(32_000, 0, 0), Ok(31_999));
        assert_eq!(layout.token_id(32_000, 1, 0), Ok(31_999 - 256));
        assert_eq!(layout.code_from_id(32_000, 31_999 - 256 - 5), Some((1, 5)));
        assert_eq!(layout.code_from_id(32_000, 100), None, "ordinary text tokens are not action tokens");
        assert!(layout.token_id(32_000, 2, 256).unwrap_err().contains("out of range"));
        assert!(layout.token_id(500, 0, 0).unwrap_err().contains("cannot hold"));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn any_input_is_parsed_or_explained_never_a_panic(text in any::<String>()) {
            let _ = parse(&text, &TokenLayout::default());
        }

        #[test]
        fn token_like_soup_never_panics(parts in proptest::collection::vec(
            prop_oneof![
                Just("<instr>".to_owned()), Just("</instr>".to_owned()), Just("<stage>".to_owned()), Just("</stage>".to_owned()),
                Just("<act_".to_owned()), Just("c".to_owned()), Just("f1".to_owned()), Just("f2".to_owned()), Just(":".to_owned()),
                Just(">".to_owned()), Just(" ".to_owned()), Just("<".to_owned()), "[0-9]{1,12}", "[a-zé&;]{0,4}",
            ], 0..40)) {
            let _ = parse(&parts.concat(), &TokenLayout::default());
        }

        #[test]
        fn rendered_outputs_parse_back(
            instr in proptest::collection::vec("[a-z0-9 :;.<>&]{0,20}", 0..3),
            stages in proptest::collection::vec("[a-z ]{1,12}", 0..5),
            chunks in proptest::collection::vec(proptest::collection::vec(0u32..256, 3), 0..6),
        ) {
            let layout = TokenLayout::default();
            let output = PolicyOutput {
                instruction_level: instr.iter().map(|s| s.trim().to_owned()).collect(),
                action_level: stages.iter().map(|s| s.trim().to_owned()).collect(),
                chunks,
            };
            prop_assert_eq!(parse(&render(&output, &layout), &layout).unwrap(), output);
        }
    }
}
