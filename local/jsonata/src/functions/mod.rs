//! The function library: JSONata 2.0.6's built-ins (less `$eval`, which Step Functions removes)
//! and the functions Step Functions adds (`$partition`, `$range`, `$hash`, `$random` with a
//! seed, `$uuid`, `$parse`).

mod aws;
mod collections;
mod datetime;
mod js_regex;
mod matcher;
mod numeric;
mod picture;
mod strings;

use crate::error::Result;
use crate::eval::Ctx;
use crate::signature::Signature;
use crate::value::{Env, Func, Val};
use fancy_regex::Regex;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::sync::LazyLock;

pub(crate) use js_regex::compile_js_regex;
pub(crate) use strings::regex_match_object;

/// A built-in function's body: `(context, validated arguments, focus input, environment)`.
pub(crate) type Implementation = fn(&Ctx, Vec<Val>, &Val, &Env) -> Result<Val>;

/// A built-in function.
pub(crate) struct Builtin {
    pub name: &'static str,
    /// The number of parameters the reference's JavaScript function declares (what
    /// higher-order functions use to decide how many arguments to pass).
    pub arity: usize,
    pub signature: Signature,
    pub implementation: Implementation,
}

impl std::fmt::Debug for Builtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "${}", self.name)
    }
}

const TABLE: &[(&str, &str, usize, Implementation)] = &[
    ("sum", "<a<n>:n>", 1, numeric::sum),
    ("count", "<a:n>", 1, numeric::count),
    ("max", "<a<n>:n>", 1, numeric::max),
    ("min", "<a<n>:n>", 1, numeric::min),
    ("average", "<a<n>:n>", 1, numeric::average),
    ("string", "<x-b?:s>", 1, strings::string),
    ("substring", "<s-nn?:s>", 3, strings::substring),
    ("substringBefore", "<s-s:s>", 2, strings::substring_before),
    ("substringAfter", "<s-s:s>", 2, strings::substring_after),
    ("lowercase", "<s-:s>", 1, strings::lowercase),
    ("uppercase", "<s-:s>", 1, strings::uppercase),
    ("length", "<s-:n>", 1, strings::length),
    ("trim", "<s-:s>", 1, strings::trim),
    ("pad", "<s-ns?:s>", 3, strings::pad),
    ("match", "<s-f<s:o>n?:a<o>>", 3, strings::match_),
    ("contains", "<s-(sf):b>", 2, strings::contains),
    ("replace", "<s-(sf)(sf)n?:s>", 4, strings::replace),
    ("split", "<s-(sf)n?:a<s>>", 3, strings::split),
    ("join", "<a<s>s?:s>", 2, strings::join),
    ("formatNumber", "<n-so?:s>", 3, numeric::format_number),
    ("formatBase", "<n-n?:s>", 2, numeric::format_base),
    ("formatInteger", "<n-s:s>", 2, numeric::format_integer),
    ("parseInteger", "<s-s:n>", 2, numeric::parse_integer),
    ("number", "<(nsb)-:n>", 1, numeric::number),
    ("floor", "<n-:n>", 1, numeric::floor),
    ("ceil", "<n-:n>", 1, numeric::ceil),
    ("round", "<n-n?:n>", 2, numeric::round),
    ("abs", "<n-:n>", 1, numeric::abs),
    ("sqrt", "<n-:n>", 1, numeric::sqrt),
    ("power", "<n-n:n>", 2, numeric::power),
    ("random", "<n?:n>", 0, aws::random),
    ("boolean", "<x-:b>", 1, collections::boolean),
    ("not", "<x-:b>", 1, collections::not),
    ("map", "<af>", 2, collections::map),
    ("zip", "<a+>", 0, collections::zip),
    ("filter", "<af>", 2, collections::filter),
    ("single", "<af?>", 2, collections::single),
    ("reduce", "<afj?:j>", 3, collections::reduce),
    ("sift", "<o-f?:o>", 2, collections::sift),
    ("keys", "<x-:a<s>>", 1, collections::keys),
    ("lookup", "<x-s:x>", 2, collections::lookup),
    ("append", "<xx:a>", 2, collections::append),
    ("exists", "<x:b>", 1, collections::exists),
    ("spread", "<x-:a<o>>", 1, collections::spread),
    ("merge", "<a<o>:o>", 1, collections::merge),
    ("reverse", "<a:a>", 1, collections::reverse),
    ("each", "<o-f:a>", 2, collections::each),
    ("error", "<s?:x>", 1, collections::error),
    ("assert", "<bs?:x>", 2, collections::assert),
    ("type", "<x:s>", 1, collections::type_),
    ("sort", "<af?:a>", 2, collections::sort),
    ("shuffle", "<a:a>", 1, collections::shuffle),
    ("distinct", "<x:x>", 1, collections::distinct),
    ("base64encode", "<s-:s>", 1, strings::base64encode),
    ("base64decode", "<s-:s>", 1, strings::base64decode),
    ("encodeUrlComponent", "<s-:s>", 1, strings::encode_url_component),
    ("encodeUrl", "<s-:s>", 1, strings::encode_url),
    ("decodeUrlComponent", "<s-:s>", 1, strings::decode_url_component),
    ("decodeUrl", "<s-:s>", 1, strings::decode_url),
    ("toMillis", "<s-s?:n>", 2, datetime::to_millis),
    ("fromMillis", "<n-s?s?:s>", 3, datetime::from_millis),
    ("now", "<s?s?:s>", 2, datetime::now),
    ("millis", "<:n>", 0, datetime::millis),
    ("clone", "<(oa)-:o>", 1, collections::clone),
    ("partition", "<an:a>", 2, aws::partition),
    ("range", "<nnn:a<n>>", 3, aws::range),
    ("hash", "<s-s:s>", 2, aws::hash),
    ("uuid", "<:s>", 0, aws::uuid),
    ("parse", "<s-:j>", 1, aws::parse),
];

static BUILTINS: LazyLock<HashMap<&'static str, Builtin>> = LazyLock::new(|| {
    TABLE
        .iter()
        .filter_map(|&(name, signature, arity, implementation)| {
            // The table's signatures are constants covered by the tests; a bad one is left out.
            let signature = Signature::parse(signature).ok()?;
            Some((name, Builtin { name, arity, signature, implementation }))
        })
        .collect()
});

/// The built-in function bound to `$name`, or undefined.
pub(crate) fn lookup_builtin(name: &str) -> Val {
    match BUILTINS.get(name) {
        Some(builtin) => Val::func(Func::Builtin(builtin)),
        None => Val::Undefined,
    }
}

/// The `index`th argument, undefined when absent.
pub(crate) fn arg(args: &[Val], index: usize) -> &Val {
    args.get(index).unwrap_or(&Val::Undefined)
}

pub(crate) fn num_arg(args: &[Val], index: usize) -> Option<f64> {
    arg(args, index).as_num()
}

pub(crate) fn str_arg(args: &[Val], index: usize) -> Option<&str> {
    match arg(args, index) {
        Val::Str(s) => Some(s),
        _ => None,
    }
}

/// A string or regular-expression pattern argument.
pub(crate) enum Pattern<'a> {
    Text(&'a str),
    Regex(&'a Regex),
    /// A custom matcher function (see `matcher.rs`).
    Custom(&'a Val),
}

pub(crate) fn pattern_arg(args: &[Val], index: usize) -> Result<Option<Pattern<'_>>> {
    Ok(match arg(args, index) {
        Val::Str(s) => Some(Pattern::Text(s)),
        Val::Func(f) => match &**f {
            Func::Regex(re) => Some(Pattern::Regex(re)),
            _ => Some(Pattern::Custom(arg(args, index))),
        },
        _ => None,
    })
}

pub(crate) fn object(entries: Vec<(&str, Val)>) -> Val {
    Val::object(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<IndexMap<_, _>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signature_in_the_table_parses() {
        for (name, signature, _, _) in TABLE {
            assert!(Signature::parse(signature).is_ok(), "${name}: {signature}");
        }
        assert_eq!(BUILTINS.len(), TABLE.len());
        assert!(lookup_builtin("eval").is_undefined(), "Step Functions removes $eval");
    }
}
