//! The text form of signature policies: a small recursive-descent parser for
//! Fabric's policy DSL, whose errors point at a byte and say what was expected
//! there, so that a mistake in a channel configuration is fixed at first reading.

use std::fmt;

use super::signature::{Principal, PrincipalRole, SignaturePolicy};

/// Longest accepted policy text, in bytes.
pub const MAX_POLICY_LEN: usize = 16 * 1024;
/// Deepest accepted nesting of `AND`/`OR`/`OutOf` (the outermost call is level 1).
pub const MAX_DEPTH: usize = 32;
/// Most principals accepted in one policy (counting repeats).
pub const MAX_PRINCIPALS: usize = 256;

const EXPECTED_POLICY: &str = "a quoted principal like 'Org1MSP.peer' or AND/OR/OutOf";

/// Which rule of the policy language the text broke. [`PolicyParseError`] says
/// where, and what was expected and found there, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseRule {
    /// A token the grammar does not allow at this point.
    UnexpectedToken,
    /// A function other than `AND`, `OR` and `OutOf`.
    UnknownFunction { name: String },
    /// `AND()`, `OR()` or `OutOf(n)`: nothing to combine.
    NoArguments { function: String },
    /// `OutOf(0, ..)`, which Fabric treats as always satisfied: surely a mistake.
    ZeroThreshold,
    /// `OutOf(n, ..)` listing fewer than `n` sub-policies: never satisfiable.
    ThresholdAboveChildren { n: usize, children: usize },
    /// A quoted principal without a dot between MSP id and role.
    PrincipalWithoutRole,
    /// An MSP id that is empty or has a character outside `[A-Za-z0-9.-]`.
    InvalidMspId { msp_id: String },
    /// A role other than member, admin, client, peer and orderer.
    UnknownRole { role: String },
    /// A quote opened and never closed.
    UnterminatedQuote,
    /// Text after a complete policy.
    TrailingInput,
    /// Nesting deeper than `max` levels.
    TooDeep { max: usize },
    /// More than `max` principals.
    TooManyPrincipals { max: usize },
    /// Text of `len` bytes, over the limit of `max`.
    TooLong { len: usize, max: usize },
    /// An implicit meta rule other than `ANY`, `ALL` and `MAJORITY`.
    UnknownMetaRule { rule: String },
    /// A sub-policy name with a character outside `[A-Za-z0-9_-]`.
    InvalidSubPolicyName { name: String },
}

/// Policy text that does not parse: where, which rule, what was expected and
/// what was found. Displays as
/// `at column 14: expected a quoted principal like 'Org1MSP.peer' or AND/OR/OutOf, found ")"`;
/// [`PolicyParseError::render`] draws a caret under the spot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyParseError {
    /// Byte offset (0-based) in the text.
    pub position: usize,
    /// Line of `position` (1-based); 1 unless the text spans lines.
    pub line: usize,
    /// Column of `position` in its line (1-based, in characters).
    pub column: usize,
    /// The rule that was broken.
    pub rule: ParseRule,
    /// What was expected at `position`, in words.
    pub expected: String,
    /// What was there: the offending text, quoted, or `end of input`.
    pub found: String,
}

impl fmt::Display for PolicyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 1 {
            write!(f, "at line {}, column {}", self.line, self.column)?;
        } else {
            write!(f, "at column {}", self.column)?;
        }
        write!(f, ": expected {}, found {}", self.expected, self.found)
    }
}

impl PolicyParseError {
    /// The line of `input` holding the error and a caret under its column:
    ///
    /// ```text
    /// AND('Org1MSP.peer', )
    ///                     ^
    /// ```
    ///
    /// `input` must be the text that was parsed. Long lines are cut to a window
    /// around the error, marked with `...`.
    pub fn render(&self, input: &str) -> String {
        const HALF_WINDOW: usize = 40;
        let pos = floor_char_boundary(input, self.position);
        let line_start = input[..pos].rfind('\n').map_or(0, |i| i + 1);
        let line_end = input[pos..].find('\n').map_or(input.len(), |i| pos + i);
        let line = input[line_start..line_end].trim_end_matches('\r');
        let chars: Vec<char> = line.chars().collect();
        let col = input[line_start..pos].chars().count();

        let from = col.saturating_sub(HALF_WINDOW);
        let to = (col + HALF_WINDOW).min(chars.len());
        let mut text = String::new();
        let mut under = String::new();
        if from > 0 {
            text.push_str("...");
            under.push_str("   ");
        }
        for (i, &c) in chars[from..to].iter().enumerate() {
            text.push(if c.is_control() && c != '\t' { ' ' } else { c });
            if from + i < col {
                under.push(if c == '\t' { '\t' } else { ' ' });
            }
        }
        if to < chars.len() {
            text.push_str("...");
        }
        under.push('^');
        format!("{text}\n{under}")
    }
}

/// An error before its line and column are known.
#[derive(Debug)]
pub(super) struct Fail {
    position: usize,
    rule: ParseRule,
    expected: String,
    found: String,
}

impl Fail {
    pub(super) fn new(
        position: usize,
        rule: ParseRule,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Fail {
        Fail {
            position,
            rule,
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// Attaches line and column, counted in `input`.
    pub(super) fn into_error(self, input: &str) -> PolicyParseError {
        let pos = floor_char_boundary(input, self.position);
        let before = &input[..pos];
        let line = 1 + before.matches('\n').count();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = 1 + before[line_start..].chars().count();
        PolicyParseError {
            position: self.position,
            line,
            column,
            rule: self.rule,
            expected: self.expected,
            found: self.found,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Quotes source text for a `found`, cut if long.
pub(super) fn quote(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    if text.chars().count() > MAX_CHARS {
        let cut: String = text.chars().take(MAX_CHARS).collect();
        format!("{:?}...", cut)
    } else {
        format!("{text:?}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    LParen,
    RParen,
    Comma,
    /// A bare word: a function name, or a mistake such as an unquoted principal.
    Word(&'a str),
    Number(&'a str),
    /// A quoted string; the text is without the quotes.
    Quoted(&'a str),
    /// Any other character.
    Other,
    End,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    tok: Tok<'a>,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    And,
    Or,
    OutOf,
}

impl Function {
    fn from_name(name: &str) -> Option<Function> {
        if name.eq_ignore_ascii_case("AND") {
            Some(Function::And)
        } else if name.eq_ignore_ascii_case("OR") {
            Some(Function::Or)
        } else if name.eq_ignore_ascii_case("OutOf") {
            Some(Function::OutOf)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Function::And => "AND",
            Function::Or => "OR",
            Function::OutOf => "OutOf",
        }
    }
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
    principals: usize,
}

pub(super) fn parse_signature_policy(input: &str) -> Result<SignaturePolicy, PolicyParseError> {
    parse_inner(input).map_err(|f| f.into_error(input))
}

fn parse_inner(input: &str) -> Result<SignaturePolicy, Fail> {
    if input.len() > MAX_POLICY_LEN {
        return Err(Fail::new(
            MAX_POLICY_LEN,
            ParseRule::TooLong {
                len: input.len(),
                max: MAX_POLICY_LEN,
            },
            format!("a policy of at most {MAX_POLICY_LEN} bytes"),
            format!("{} bytes", input.len()),
        ));
    }
    let mut parser = Parser {
        input,
        pos: 0,
        principals: 0,
    };
    let policy = parser.expr(0)?;
    let next = parser.next()?;
    if next.tok != Tok::End {
        return Err(Fail::new(
            next.start,
            ParseRule::TrailingInput,
            "end of input after a complete policy",
            parser.describe(next),
        ));
    }
    Ok(policy)
}

impl<'a> Parser<'a> {
    /// The next token, skipping whitespace.
    fn next(&mut self) -> Result<Token<'a>, Fail> {
        let bytes = self.input.as_bytes();
        while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(&b) = bytes.get(start) else {
            return Ok(Token {
                tok: Tok::End,
                start,
                end: start,
            });
        };
        let scan = |from: usize, ok: fn(u8) -> bool| {
            let mut i = from;
            while i < bytes.len() && ok(bytes[i]) {
                i += 1;
            }
            i
        };
        let (tok, end) = match b {
            b'(' => (Tok::LParen, start + 1),
            b')' => (Tok::RParen, start + 1),
            b',' => (Tok::Comma, start + 1),
            b'\'' | b'"' => match self.input[start + 1..].find(b as char) {
                Some(len) => {
                    let end = start + 1 + len + 1;
                    (Tok::Quoted(&self.input[start + 1..end - 1]), end)
                }
                None => {
                    return Err(Fail::new(
                        start,
                        ParseRule::UnterminatedQuote,
                        format!("a closing {} for the principal that starts here", b as char),
                        "end of input",
                    ))
                }
            },
            b'0'..=b'9' => {
                let end = scan(start, |c| c.is_ascii_digit());
                (Tok::Number(&self.input[start..end]), end)
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let end = scan(start, |c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')
                });
                (Tok::Word(&self.input[start..end]), end)
            }
            _ => {
                let c = self.input[start..].chars().next().map_or(1, char::len_utf8);
                (Tok::Other, start + c)
            }
        };
        self.pos = end;
        Ok(Token { tok, start, end })
    }

    fn describe(&self, t: Token<'_>) -> String {
        match t.tok {
            Tok::End => "end of input".into(),
            _ => quote(&self.input[t.start..t.end]),
        }
    }

    fn unexpected(&self, t: Token<'_>, expected: impl Into<String>) -> Fail {
        Fail::new(
            t.start,
            ParseRule::UnexpectedToken,
            expected,
            self.describe(t),
        )
    }

    /// One policy: a quoted principal or a function call. `depth` is the number
    /// of calls around it.
    fn expr(&mut self, depth: usize) -> Result<SignaturePolicy, Fail> {
        let t = self.next()?;
        match t.tok {
            Tok::Quoted(body) => {
                self.principals += 1;
                if self.principals > MAX_PRINCIPALS {
                    return Err(Fail::new(
                        t.start,
                        ParseRule::TooManyPrincipals {
                            max: MAX_PRINCIPALS,
                        },
                        format!("at most {MAX_PRINCIPALS} principals in one policy"),
                        format!("principal number {}", self.principals),
                    ));
                }
                parse_principal(body, t.start + 1)
                    .map(SignaturePolicy::SignedBy)
                    .map_err(|f| match f.rule {
                        // Point at the whole principal when it has no dot at all.
                        ParseRule::PrincipalWithoutRole => Fail {
                            position: t.start,
                            ..f
                        },
                        _ => f,
                    })
            }
            Tok::Word(name) => match Function::from_name(name) {
                Some(function) => self.call(function, t, depth + 1),
                None => {
                    let save = self.pos;
                    let followed_by_paren = self.next()?.tok == Tok::LParen;
                    self.pos = save;
                    if followed_by_paren {
                        Err(Fail::new(
                            t.start,
                            ParseRule::UnknownFunction { name: name.into() },
                            "AND, OR or OutOf",
                            quote(name),
                        ))
                    } else if name.contains('.') {
                        Err(self.unexpected(
                            t,
                            format!("{EXPECTED_POLICY} (principals are quoted: '{name}')"),
                        ))
                    } else {
                        Err(self.unexpected(t, EXPECTED_POLICY))
                    }
                }
            },
            _ => Err(self.unexpected(t, EXPECTED_POLICY)),
        }
    }

    /// `AND(..)`, `OR(..)` or `OutOf(n, ..)`, after its name.
    fn call(
        &mut self,
        function: Function,
        name: Token<'a>,
        depth: usize,
    ) -> Result<SignaturePolicy, Fail> {
        if depth > MAX_DEPTH {
            return Err(Fail::new(
                name.start,
                ParseRule::TooDeep { max: MAX_DEPTH },
                format!("at most {MAX_DEPTH} levels of nested AND/OR/OutOf"),
                format!("{} at level {depth}", self.describe(name)),
            ));
        }
        let open = self.next()?;
        if open.tok != Tok::LParen {
            return Err(self.unexpected(open, format!("\"(\" after {}", function.name())));
        }

        let mut threshold = None;
        if function == Function::OutOf {
            let t = self.next()?;
            let Tok::Number(digits) = t.tok else {
                return Err(self.unexpected(
                    t,
                    "a threshold (a whole number of at least 1) as the first argument of OutOf",
                ));
            };
            // Saturates: an absurd threshold is then refused as above the count.
            let n = digits.bytes().fold(0usize, |n, d| {
                n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
            });
            if n == 0 {
                return Err(Fail::new(
                    t.start,
                    ParseRule::ZeroThreshold,
                    "a threshold of at least 1 (OutOf(0, ...) would always be satisfied)",
                    quote(digits),
                ));
            }
            let sep = self.next()?;
            match sep.tok {
                Tok::Comma => {}
                Tok::RParen => {
                    return Err(Fail::new(
                        sep.start,
                        ParseRule::NoArguments {
                            function: "OutOf".into(),
                        },
                        "\",\" and the policies to count after the threshold of OutOf",
                        self.describe(sep),
                    ))
                }
                _ => return Err(self.unexpected(sep, "\",\" after the threshold of OutOf")),
            }
            threshold = Some((n, t));
        } else {
            let save = self.pos;
            let peek = self.next()?;
            if peek.tok == Tok::RParen {
                return Err(Fail::new(
                    peek.start,
                    ParseRule::NoArguments {
                        function: function.name().into(),
                    },
                    format!("at least one policy inside {}(...)", function.name()),
                    self.describe(peek),
                ));
            }
            self.pos = save;
        }

        let mut rules = Vec::new();
        loop {
            rules.push(self.expr(depth)?);
            let sep = self.next()?;
            match sep.tok {
                Tok::Comma => continue,
                Tok::RParen => break,
                _ => return Err(self.unexpected(sep, "\",\" or \")\"")),
            }
        }

        let n = match (function, threshold) {
            (Function::And, _) => rules.len(),
            (Function::Or, _) => 1,
            (Function::OutOf, Some((n, t))) => {
                if n > rules.len() {
                    return Err(Fail::new(
                        t.start,
                        ParseRule::ThresholdAboveChildren {
                            n,
                            children: rules.len(),
                        },
                        format!(
                            "a threshold of at most {} (the number of policies listed)",
                            rules.len()
                        ),
                        quote(&self.input[t.start..t.end]),
                    ));
                }
                n
            }
            (Function::OutOf, None) => unreachable!("OutOf always reads its threshold"),
        };
        Ok(SignaturePolicy::NOutOf { n, rules })
    }
}

/// `MSPID.role` (without quotes), found at byte `offset` of the whole text.
pub(super) fn parse_principal(body: &str, offset: usize) -> Result<Principal, Fail> {
    let Some(dot) = body.rfind('.') else {
        return Err(Fail::new(
            offset,
            ParseRule::PrincipalWithoutRole,
            "a principal of the form 'MSPID.role', like 'Org1MSP.peer'",
            quote(body),
        ));
    };
    let (msp_id, role) = (&body[..dot], &body[dot + 1..]);
    if msp_id.is_empty() {
        return Err(Fail::new(
            offset,
            ParseRule::InvalidMspId {
                msp_id: String::new(),
            },
            "an MSP id before the dot, like 'Org1MSP.peer'",
            quote("."),
        ));
    }
    if let Some((i, c)) = msp_id
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
    {
        return Err(Fail::new(
            offset + i,
            ParseRule::InvalidMspId {
                msp_id: msp_id.into(),
            },
            "an MSP id of letters, digits, '.' and '-'",
            quote(&c.to_string()),
        ));
    }
    let Some(role) = PrincipalRole::from_name(role) else {
        return Err(Fail::new(
            offset + dot + 1,
            ParseRule::UnknownRole { role: role.into() },
            "a role after the last dot: member, admin, client, peer or orderer (lower case)",
            if role.is_empty() {
                "nothing".into()
            } else {
                quote(role)
            },
        ));
    };
    Ok(Principal {
        msp_id: msp_id.into(),
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> PolicyParseError {
        match SignaturePolicy::parse(text) {
            Ok(p) => panic!("{text:?} parsed as {p}"),
            Err(e) => e,
        }
    }

    /// Asserts the rule, the column and that the message names the expectation.
    fn check(text: &str, rule: ParseRule, column: usize, expected: &str, found: &str) {
        let e = err(text);
        assert_eq!(e.rule, rule, "{text:?}: {e}");
        assert_eq!(e.column, column, "{text:?}: {e}");
        assert!(
            e.expected.contains(expected),
            "{text:?}: expected {:?}",
            e.expected
        );
        assert_eq!(e.found, found, "{text:?}: {e}");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("at column {column}: expected ")),
            "{shown}"
        );
    }

    #[test]
    fn error_display_reads_as_documented() {
        let e = err("AND('Org1MSP.peer', )");
        assert_eq!(
            e.to_string(),
            "at column 21: expected a quoted principal like 'Org1MSP.peer' or AND/OR/OutOf, found \")\""
        );
        assert_eq!(e.position, 20);
    }

    #[test]
    fn empty_input_expects_a_policy() {
        check(
            "",
            ParseRule::UnexpectedToken,
            1,
            "quoted principal",
            "end of input",
        );
        check(
            "   ",
            ParseRule::UnexpectedToken,
            4,
            "quoted principal",
            "end of input",
        );
    }

    #[test]
    fn trailing_comma_expects_another_policy() {
        check(
            "OR('A.peer', )",
            ParseRule::UnexpectedToken,
            14,
            "quoted principal",
            "\")\"",
        );
    }

    #[test]
    fn missing_separator_expects_comma_or_paren() {
        check(
            "AND('A.peer' 'B.peer')",
            ParseRule::UnexpectedToken,
            14,
            "\",\" or \")\"",
            "\"'B.peer'\"",
        );
    }

    #[test]
    fn missing_close_paren_expects_comma_or_paren() {
        check(
            "AND('A.peer'",
            ParseRule::UnexpectedToken,
            13,
            "\",\" or \")\"",
            "end of input",
        );
    }

    #[test]
    fn and_or_without_arguments_are_refused() {
        check(
            "AND()",
            ParseRule::NoArguments {
                function: "AND".into(),
            },
            5,
            "at least one policy",
            "\")\"",
        );
        check(
            "or( )",
            ParseRule::NoArguments {
                function: "OR".into(),
            },
            5,
            "at least one policy",
            "\")\"",
        );
        check(
            "OutOf(1)",
            ParseRule::NoArguments {
                function: "OutOf".into(),
            },
            8,
            "policies to count",
            "\")\"",
        );
    }

    #[test]
    fn outof_zero_is_refused_as_a_mistake() {
        check(
            "OutOf(0, 'A.peer')",
            ParseRule::ZeroThreshold,
            7,
            "at least 1",
            "\"0\"",
        );
        check(
            "OutOf(000, 'A.peer')",
            ParseRule::ZeroThreshold,
            7,
            "at least 1",
            "\"000\"",
        );
    }

    #[test]
    fn outof_threshold_above_children_is_refused() {
        check(
            "OutOf(3, 'A.peer', 'B.peer')",
            ParseRule::ThresholdAboveChildren { n: 3, children: 2 },
            7,
            "at most 2",
            "\"3\"",
        );
        let e = err("OutOf(99999999999999999999999999, 'A.peer')");
        assert_eq!(
            e.rule,
            ParseRule::ThresholdAboveChildren {
                n: usize::MAX,
                children: 1
            }
        );
    }

    #[test]
    fn outof_needs_a_non_negative_integer_first() {
        check(
            "OutOf('A.peer', 'B.peer')",
            ParseRule::UnexpectedToken,
            7,
            "threshold",
            "\"'A.peer'\"",
        );
        check(
            "OutOf(-1, 'A.peer')",
            ParseRule::UnexpectedToken,
            7,
            "threshold",
            "\"-\"",
        );
        check(
            "OutOf(2 'A.peer')",
            ParseRule::UnexpectedToken,
            9,
            "\",\" after the threshold",
            "\"'A.peer'\"",
        );
    }

    #[test]
    fn unknown_role_points_at_the_role() {
        check(
            "AND('A.peer', 'B.boss')",
            ParseRule::UnknownRole {
                role: "boss".into(),
            },
            18,
            "member, admin",
            "\"boss\"",
        );
        // Fabric's roles are lower case.
        check(
            "'A.Peer'",
            ParseRule::UnknownRole {
                role: "Peer".into(),
            },
            4,
            "lower case",
            "\"Peer\"",
        );
        check(
            "'A.'",
            ParseRule::UnknownRole { role: "".into() },
            4,
            "a role",
            "nothing",
        );
    }

    #[test]
    fn principal_needs_msp_id_and_role() {
        check(
            "'Org1MSP'",
            ParseRule::PrincipalWithoutRole,
            1,
            "'MSPID.role'",
            "\"Org1MSP\"",
        );
        check(
            "'.peer'",
            ParseRule::InvalidMspId { msp_id: "".into() },
            2,
            "MSP id before the dot",
            "\".\"",
        );
        check(
            "'Org 1.peer'",
            ParseRule::InvalidMspId {
                msp_id: "Org 1".into(),
            },
            5,
            "letters, digits",
            "\" \"",
        );
    }

    #[test]
    fn unterminated_quote_points_at_the_opening_quote() {
        check(
            "AND('A.peer', 'B.peer)",
            ParseRule::UnterminatedQuote,
            15,
            "closing '",
            "end of input",
        );
        check(
            "OR(\"A.peer')",
            ParseRule::UnterminatedQuote,
            4,
            "closing \"",
            "end of input",
        );
    }

    #[test]
    fn trailing_input_is_refused() {
        check(
            "AND('A.peer') 'B.peer'",
            ParseRule::TrailingInput,
            15,
            "end of input",
            "\"'B.peer'\"",
        );
        check(
            "'A.peer')",
            ParseRule::TrailingInput,
            9,
            "end of input",
            "\")\"",
        );
    }

    #[test]
    fn unknown_function_and_unquoted_principal_are_named() {
        check(
            "XOR('A.peer')",
            ParseRule::UnknownFunction { name: "XOR".into() },
            1,
            "AND, OR or OutOf",
            "\"XOR\"",
        );
        check(
            "AND(Org1MSP.peer)",
            ParseRule::UnexpectedToken,
            5,
            "principals are quoted",
            "\"Org1MSP.peer\"",
        );
        check(
            "AND 'A.peer'",
            ParseRule::UnexpectedToken,
            5,
            "\"(\" after AND",
            "\"'A.peer'\"",
        );
        check(
            "AND('A.peer'; 'B.peer')",
            ParseRule::UnexpectedToken,
            13,
            "\",\" or \")\"",
            "\";\"",
        );
    }

    #[test]
    fn function_names_are_case_insensitive_and_whitespace_is_free() {
        let a = SignaturePolicy::parse("OutOf(1, AND('A.peer', 'B.peer'), Or('C.peer'))").unwrap();
        let b = SignaturePolicy::parse(
            " outof ( 1 ,\n\tand ( 'A.peer' ,'B.peer' ) , OR(\"C.peer\") ) ",
        )
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn nesting_is_limited_to_32_levels() {
        let nest =
            |levels: usize| format!("{}'A.peer'{}", "AND(".repeat(levels), ")".repeat(levels));
        assert!(SignaturePolicy::parse(&nest(MAX_DEPTH)).is_ok());
        let e = err(&nest(MAX_DEPTH + 1));
        assert_eq!(e.rule, ParseRule::TooDeep { max: MAX_DEPTH });
        assert_eq!(e.position, 4 * MAX_DEPTH);
        assert!(e.expected.contains("at most 32 levels"), "{e}");
    }

    #[test]
    fn principals_are_limited_to_256() {
        let list = |count: usize| format!("OR({})", vec!["'A.peer'"; count].join(","));
        assert!(SignaturePolicy::parse(&list(MAX_PRINCIPALS)).is_ok());
        let e = err(&list(MAX_PRINCIPALS + 1));
        assert_eq!(
            e.rule,
            ParseRule::TooManyPrincipals {
                max: MAX_PRINCIPALS
            }
        );
        assert_eq!(e.position, 3 + 9 * MAX_PRINCIPALS);
    }

    #[test]
    fn input_is_limited_to_16_kib() {
        let ok = format!("'A.peer'{}", " ".repeat(MAX_POLICY_LEN - 8));
        assert!(SignaturePolicy::parse(&ok).is_ok());
        let long = format!("'A.peer'{}", " ".repeat(MAX_POLICY_LEN));
        let e = err(&long);
        assert_eq!(
            e.rule,
            ParseRule::TooLong {
                len: MAX_POLICY_LEN + 8,
                max: MAX_POLICY_LEN
            }
        );
        assert_eq!(e.found, format!("{} bytes", MAX_POLICY_LEN + 8));
    }

    #[test]
    fn errors_on_later_lines_give_line_and_column() {
        let e = err("AND(\n  'A.peer',\n  'B.boss'\n)");
        assert_eq!((e.line, e.column), (3, 6));
        assert!(
            e.to_string()
                .starts_with("at line 3, column 6: expected a role"),
            "{e}"
        );
        assert_eq!(
            e.render("AND(\n  'A.peer',\n  'B.boss'\n)"),
            "  'B.boss'\n     ^"
        );
    }

    #[test]
    fn render_puts_a_caret_under_the_error() {
        let text = "AND('Org1MSP.peer', )";
        assert_eq!(
            err(text).render(text),
            "AND('Org1MSP.peer', )\n                    ^"
        );
        // At the end of the text the caret sits just past it.
        let text = "OR('A.peer'";
        assert_eq!(err(text).render(text), "OR('A.peer'\n           ^");
    }

    #[test]
    fn render_cuts_long_lines_around_the_error() {
        let text = format!("OR({}, )", vec!["'A.peer'"; 30].join(", "));
        let e = err(&text);
        let shown = e.render(&text);
        let mut lines = shown.lines();
        let (line, caret) = (lines.next().unwrap(), lines.next().unwrap());
        assert!(line.starts_with("...") && line.len() < 100, "{line}");
        assert_eq!(&line[caret.len() - 1..caret.len()], ")");
    }
}
