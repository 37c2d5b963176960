//! Parsing and validating a state machine definition into typed states.

use crate::choice::Rule;
use crate::distributed::{self, Distributed};
use crate::error::{names, DefinitionError, Problem};
use crate::path::{check_variable_name, Path};
use crate::query::{Expr, JTemplate};
use crate::template::{Dynamic, Template};
use crate::time;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// A validated state machine definition (States Language, JSONPath or JSONata query language).
///
/// Build it with [`Definition::parse`]; fill `${Name}` placeholders first with
/// [`Definition::substitute`].
#[derive(Debug, Clone)]
pub struct Definition {
    text: String,
    pub(crate) machine: Arc<Machine>,
}

impl Definition {
    /// Parses and validates a definition. Errors name the state and the problem.
    pub fn parse(text: &str) -> Result<Definition, DefinitionError> {
        let value: Value = serde_json::from_str(text).map_err(|e| DefinitionError::Json(e.to_string()))?;
        let obj = value.as_object().ok_or_else(|| invalid("the definition must be a JSON object"))?;
        let jsonata =
            query_language(obj.get("QueryLanguage"), false).map_err(|e| invalid(format!("the definition: {e}")))?;
        for key in obj.keys() {
            if !["StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"].contains(&key.as_str()) {
                return Err(invalid(format!("unknown top-level field '{key}'")));
            }
        }
        if let Some(v) = obj.get("Version") {
            if !v.is_string() {
                return Err(invalid("'Version' must be a string"));
            }
        }
        let mut machine = parse_machine(obj, "the definition", jsonata).map_err(DefinitionError::Invalid)?;
        check_variable_scopes(&machine, &HashSet::new()).map_err(DefinitionError::Invalid)?;
        machine.timeout_seconds = match obj.get("TimeoutSeconds") {
            None => None,
            Some(v) => Some(positive_int(v).ok_or_else(|| invalid("'TimeoutSeconds' must be a positive integer"))?),
        };
        Ok(Definition { text: value.to_string(), machine: Arc::new(machine) })
    }

    /// Replaces every `${Name}` in `text` with `values[Name]` (DefinitionSubstitutions); a name
    /// without a value is an error.
    pub fn substitute(text: &str, values: &HashMap<String, String>) -> Result<String, DefinitionError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(DefinitionError::Substitution("'${' without a closing '}'".into()));
            };
            let name = &after[..end];
            match values.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    return Err(DefinitionError::Substitution(format!("no value for '${{{name}}}'")));
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A definition made of one machine (a Distributed Map's item processor, run as a child).
    pub(crate) fn of_machine(machine: Arc<Machine>) -> Definition {
        Definition { text: String::new(), machine }
    }

    /// The definition as compact JSON.
    pub fn as_json(&self) -> &str {
        &self.text
    }
}

fn invalid(msg: impl Into<String>) -> DefinitionError {
    DefinitionError::Invalid(Problem::Machine(msg.into()))
}

/// `QueryLanguage`: `true` for JSONata; absent, the enclosing one (`inherited`). A JSONata
/// state machine may not hold JSONPath states.
fn query_language(v: Option<&Value>, inherited: bool) -> Result<bool, String> {
    match v.map(Value::as_str) {
        None => Ok(inherited),
        Some(Some("JSONata")) => Ok(true),
        Some(Some("JSONPath")) if inherited => {
            Err("QueryLanguage JSONPath is not allowed inside a JSONata state machine".into())
        }
        Some(Some("JSONPath")) => Ok(false),
        _ => Err("QueryLanguage must be \"JSONPath\" or \"JSONata\"".into()),
    }
}

/// A set of states with a start (the top level, a Parallel branch or a Map processor).
#[derive(Debug)]
pub(crate) struct Machine {
    pub start_at: String,
    pub states: HashMap<String, State>,
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub name: String,
    pub kind: Kind,
    /// `None` when the field is `null` (discard).
    pub input_path: Option<Path>,
    pub output_path: Option<Path>,
    pub result_path: Option<Path>,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    /// `None` for an end state (and for Choice, Succeed and Fail).
    pub next: Option<String>,
    /// QueryLanguage JSONata (its InputPath, OutputPath and ResultPath are then `$`).
    pub jsonata: bool,
    /// JSONata `Arguments` (Task, Parallel).
    pub arguments: Option<JTemplate>,
    /// JSONata `Output`.
    pub output: Option<JTemplate>,
    pub assign: Option<Assign>,
}

/// An `Assign` field: variable names and their values, evaluated after the state.
#[derive(Debug)]
pub(crate) enum Assign {
    /// JSONPath: `.$` keys are Paths or intrinsic functions (`$` is the state's result).
    Path(Template),
    /// JSONata: `{% … %}` strings anywhere in the values.
    Jsonata(JTemplate),
}

impl Assign {
    /// The names of the variables it assigns.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Assign::Path(Template::Object(fields)) => fields.iter().map(|(k, _)| k.as_str()).collect(),
            Assign::Jsonata(JTemplate::Object(fields)) => fields.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

/// Every variable name a state may assign (its own Assign, its catchers' and its Choice rules').
fn assigned_names(state: &State) -> Vec<&str> {
    let mut names: Vec<&str> = state.assign.iter().flat_map(Assign::names).collect();
    names.extend(state.catch.iter().filter_map(|c| c.assign.as_ref()).flat_map(Assign::names));
    if let Kind::Choice { choices, .. } = &state.kind {
        names.extend(choices.iter().filter_map(|c| c.assign.as_ref()).flat_map(Assign::names));
    }
    names
}

/// A Parallel branch or Map iteration reads the variables of the scopes around it but may not
/// assign them: a name assigned in an enclosing scope cannot be assigned inside.
fn check_variable_scopes(machine: &Machine, outer: &HashSet<String>) -> Result<(), Problem> {
    let mut visible = outer.clone();
    visible.extend(machine.states.values().flat_map(assigned_names).map(str::to_string));
    for state in machine.states.values() {
        let (nested, part): (Vec<&Arc<Machine>>, &str) = match &state.kind {
            Kind::Parallel { branches } => (branches.iter().collect(), "a branch"),
            Kind::Map { processor, distributed: None, .. } => (vec![processor], "the item processor"),
            // A Distributed Map's children are executions of their own: they see no outer
            // variable (AWS: "Distributed Map states cannot reference variables in outer scopes").
            Kind::Map { processor, distributed: Some(_), .. } => {
                check_variable_scopes(processor, &HashSet::new())?;
                continue;
            }
            _ => continue,
        };
        for inner in nested {
            for inner_state in inner.states.values() {
                if let Some(name) = assigned_names(inner_state).into_iter().find(|n| visible.contains(*n)) {
                    return Err(Problem::Nested {
                        state: state.name.clone(),
                        part: part.to_string(),
                        problem: Box::new(Problem::State {
                            state: inner_state.name.clone(),
                            field: Some("Assign".into()),
                            message: format!(
                                "variable '{name}' belongs to an outer scope, which a Parallel branch or Map \
                                 iteration can read but not assign"
                            ),
                        }),
                    });
                }
            }
            check_variable_scopes(inner, &visible)?;
        }
    }
    Ok(())
}

/// One rule of a Choice state.
#[derive(Debug)]
pub(crate) struct ChoiceRule {
    pub test: ChoiceTest,
    pub next: String,
    pub assign: Option<Assign>,
    pub output: Option<JTemplate>,
}

/// What a Choice rule checks.
#[derive(Debug)]
pub(crate) enum ChoiceTest {
    Rule(Rule),
    /// JSONata `Condition`: must evaluate to a boolean.
    Condition(Expr),
}

#[derive(Debug)]
pub(crate) enum Kind {
    Pass {
        result: Option<Value>,
    },
    Task {
        resource: String,
        timeout: Option<Seconds>,
    },
    Choice {
        choices: Vec<ChoiceRule>,
        default: Option<String>,
    },
    Wait(WaitFor),
    Succeed,
    Fail {
        error: Option<Source>,
        cause: Option<Source>,
    },
    Parallel {
        branches: Vec<Arc<Machine>>,
    },
    Map {
        processor: Arc<Machine>,
        items_path: Path,
        /// Boxed: a JSONPath template is large and most Map states have none.
        item_selector: Option<Box<Template>>,
        /// JSONata `Items` (default: the state input).
        items: Option<JTemplate>,
        /// JSONata `ItemSelector`.
        item_template: Option<JTemplate>,
        max_concurrency: Seconds,
        /// `Some` for ProcessorConfig Mode DISTRIBUTED.
        distributed: Option<Box<Distributed>>,
    },
}

impl Kind {
    /// The prefix of this state's history event types (`Task` in `TaskStateEntered`).
    pub fn event_prefix(&self) -> &'static str {
        match self {
            Kind::Pass { .. } => "Pass",
            Kind::Task { .. } => "Task",
            Kind::Choice { .. } => "Choice",
            Kind::Wait(_) => "Wait",
            Kind::Succeed => "Succeed",
            Kind::Fail { .. } => "Fail",
            Kind::Parallel { .. } => "Parallel",
            Kind::Map { .. } => "Map",
        }
    }
}

/// A whole number given literally, read from the input with a Reference Path or computed
/// by a JSONata expression.
#[derive(Debug, Clone)]
pub(crate) enum Seconds {
    Fixed(u64),
    Path(Path),
    Expr(Expr),
}

#[derive(Debug)]
pub(crate) enum WaitFor {
    Seconds(Seconds),
    Timestamp(String),
    TimestampPath(Path),
    TimestampExpr(Expr),
}

/// Fail's Error/Cause: a literal or a Path / intrinsic function (ErrorPath / CausePath).
#[derive(Debug)]
pub(crate) enum Source {
    Fixed(String),
    Dynamic(Dynamic),
    Expr(Expr),
}

#[derive(Debug, Clone)]
pub(crate) struct Retrier {
    pub errors: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter_full: bool,
}

#[derive(Debug)]
pub(crate) struct Catcher {
    pub errors: Vec<String>,
    pub next: String,
    pub result_path: Option<Path>,
    /// JSONata `Output` (default: the error output).
    pub output: Option<JTemplate>,
    pub assign: Option<Assign>,
}

/// Does a Retry/Catch `ErrorEquals` list match `error`? As on AWS: `States.Runtime` is never
/// retried or caught; `States.DataLimitExceeded` only by its own name; `States.ALL` matches
/// every other error, and `States.TaskFailed` every other error but `States.Timeout`.
pub(crate) fn error_matches(errors: &[String], error: &str) -> bool {
    match error {
        names::RUNTIME => false,
        names::DATA_LIMIT_EXCEEDED => errors.iter().any(|e| e == error),
        _ => {
            errors.iter().any(|e| e == error || e == names::ALL || (e == names::TASK_FAILED && error != names::TIMEOUT))
        }
    }
}

const SUPPORTED_COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];
const UNSUPPORTED: &[&str] = &["Credentials"];
/// Fields of JSONPath states that JSONata states may not have.
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Result",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "ItemsPath",
    "MaxConcurrencyPath",
];

/// Fields only JSONata states have, by state type.
fn jsonata_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Task" | "Parallel" => &["Output", "Arguments"],
        "Map" => &["Output", "Items"],
        "Fail" => &[],
        _ => &["Output"],
    }
}

/// Does this state type take `Assign`?
fn takes_assign(kind: &str) -> bool {
    !matches!(kind, "Succeed" | "Fail")
}

fn allowed_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pass" => &["Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result"],
        "Task" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
        ],
        "Choice" => &["InputPath", "OutputPath", "Choices", "Default"],
        "Wait" => &["Next", "End", "InputPath", "OutputPath", "Seconds", "SecondsPath", "Timestamp", "TimestampPath"],
        "Succeed" => &["InputPath", "OutputPath"],
        "Fail" => &["Error", "ErrorPath", "Cause", "CausePath"],
        "Parallel" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "Branches",
        ],
        "Map" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "ItemsPath",
            "ItemSelector",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "Iterator",
            "ItemProcessor",
        ],
        _ => return None,
    })
}

fn parse_machine(obj: &Map<String, Value>, owner: &str, jsonata: bool) -> Result<Machine, Problem> {
    let start_at = match obj.get("StartAt") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(Problem::Machine(format!("{owner}: 'StartAt' must be a string"))),
        None => return Err(Problem::Machine(format!("{owner}: 'StartAt' is required"))),
    };
    let states_obj = match obj.get("States") {
        Some(Value::Object(m)) if !m.is_empty() => m,
        Some(Value::Object(_)) => return Err(Problem::Machine(format!("{owner}: 'States' must not be empty"))),
        Some(_) => return Err(Problem::Machine(format!("{owner}: 'States' must be an object"))),
        None => return Err(Problem::Machine(format!("{owner}: 'States' is required"))),
    };
    if !states_obj.contains_key(&start_at) {
        return Err(Problem::Machine(format!("{owner}: StartAt '{start_at}' is not a state in 'States'")));
    }
    let mut states = HashMap::new();
    for (name, v) in states_obj {
        if name.is_empty() || name.chars().count() > 80 {
            return Err(Problem::Machine(format!("state name '{name}' must be 1 to 80 characters")));
        }
        let s = v.as_object().ok_or_else(|| Problem::State {
            state: name.clone(),
            field: None,
            message: "a state must be a JSON object".into(),
        })?;
        let state = parse_state(name, s, jsonata)?;
        states.insert(name.clone(), state);
    }
    // Every transition must name a state of this machine.
    for state in states.values() {
        for target in targets(state) {
            if !states.contains_key(target) {
                return Err(Problem::State {
                    state: state.name.clone(),
                    field: None,
                    message: format!("transition target '{target}' is not a state in {owner}"),
                });
            }
        }
    }
    // Every state must be reachable from StartAt.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut queue = VecDeque::from([start_at.as_str()]);
    while let Some(name) = queue.pop_front() {
        if seen.insert(name) {
            if let Some(state) = states.get(name) {
                queue.extend(targets(state));
            }
        }
    }
    let mut unreachable: Vec<&String> = states.keys().filter(|n| !seen.contains(n.as_str())).collect();
    unreachable.sort();
    if let Some(name) = unreachable.first() {
        return Err(Problem::Machine(format!("state '{name}' is not reachable from StartAt '{start_at}' in {owner}")));
    }
    Ok(Machine { start_at, states, timeout_seconds: None })
}

fn targets(state: &State) -> Vec<&str> {
    let mut out: Vec<&str> = state.next.iter().map(|s| s.as_str()).collect();
    out.extend(state.catch.iter().map(|c| c.next.as_str()));
    if let Kind::Choice { choices, default } = &state.kind {
        out.extend(choices.iter().map(|c| c.next.as_str()));
        out.extend(default.iter().map(|s| s.as_str()));
    }
    out
}

fn positive_int(v: &Value) -> Option<u64> {
    v.as_u64().filter(|n| *n > 0)
}

fn string_field<'a>(s: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match s.get(key) {
        None => Ok(None),
        Some(Value::String(v)) => Ok(Some(v)),
        Some(_) => Err(format!("'{key}' must be a string")),
    }
}

/// InputPath / OutputPath / ResultPath: absent means `$`, null means discard.
fn io_path(s: &Map<String, Value>, key: &str, reference: bool) -> Result<Option<Path>, String> {
    match s.get(key) {
        None => Ok(Some(Path::parse("$")?)),
        Some(Value::Null) => Ok(None),
        Some(Value::String(p)) => {
            let path = Path::parse(p).map_err(|e| format!("{key}: {e}"))?;
            if path.context {
                return Err(format!("{key} cannot use the context object ('$$')"));
            }
            if path.variable.is_some() {
                return Err(format!("{key} cannot read a variable"));
            }
            if reference && !path.is_reference() {
                return Err(format!("{key} '{p}' must be a Reference Path (only fields and indexes)"));
            }
            Ok(Some(path))
        }
        Some(_) => Err(format!("'{key}' must be a string or null")),
    }
}

fn reference_path(v: &Value, key: &str) -> Result<Path, String> {
    let s = v.as_str().ok_or_else(|| format!("'{key}' must be a string"))?;
    let p = Path::parse(s).map_err(|e| format!("{key}: {e}"))?;
    if p.variable.is_some() {
        return Err(format!("{key} cannot read a variable (this engine reads {key} from the input only)"));
    }
    if !p.is_reference() {
        return Err(format!("{key} '{s}' must be a Reference Path (only fields and indexes)"));
    }
    Ok(p)
}

/// A problem found while parsing one state, before it is tied to the state's name.
enum StateError {
    /// In the state itself; `field` names the field when known.
    Field { field: Option<String>, message: String },
    /// Inside a nested machine (a Parallel branch or a Map processor).
    Nested { part: String, problem: Problem },
}

impl From<String> for StateError {
    fn from(message: String) -> Self {
        StateError::Field { field: None, message }
    }
}

impl From<&str> for StateError {
    fn from(message: &str) -> Self {
        StateError::from(message.to_string())
    }
}

impl StateError {
    fn into_problem(self, state: &str) -> Problem {
        match self {
            StateError::Field { field, message } => Problem::State { state: state.to_string(), field, message },
            StateError::Nested { part, problem } => {
                Problem::Nested { state: state.to_string(), part, problem: Box::new(problem) }
            }
        }
    }
}

/// Ties a problem to the field it was found in.
fn in_field(field: impl Into<String>) -> impl FnOnce(String) -> StateError {
    let field = field.into();
    move |message| StateError::Field { field: Some(field), message }
}

fn parse_state(name: &str, s: &Map<String, Value>, machine_jsonata: bool) -> Result<State, Problem> {
    parse_state_fields(name, s, machine_jsonata).map_err(|e| e.into_problem(name))
}

fn parse_state_fields(name: &str, s: &Map<String, Value>, machine_jsonata: bool) -> Result<State, StateError> {
    let jsonata = query_language(s.get("QueryLanguage"), machine_jsonata).map_err(in_field("QueryLanguage"))?;
    let kind_name = check_fields(s, jsonata)?;
    let (next, end) = transitions(s, matches!(kind_name, "Choice" | "Succeed" | "Fail"))?;
    let retry = parse_retry(s)?;
    let catch = parse_catch(s, jsonata)?;
    let kind = match kind_name {
        "Pass" => Kind::Pass { result: s.get("Result").cloned() },
        "Task" => parse_task(s, jsonata)?,
        "Choice" => parse_choice(s, jsonata)?,
        "Wait" => parse_wait(s, jsonata)?,
        "Succeed" => Kind::Succeed,
        "Fail" => Kind::Fail {
            error: fail_source(s, "Error", "ErrorPath", jsonata)?,
            cause: fail_source(s, "Cause", "CausePath", jsonata)?,
        },
        "Parallel" => parse_parallel(s, machine_jsonata)?,
        _ => parse_map(s, jsonata, machine_jsonata)?,
    };
    let parameters = if matches!(kind, Kind::Map { .. }) { None } else { template(s, "Parameters")? };
    Ok(State {
        name: name.to_string(),
        input_path: io_path(s, "InputPath", false).map_err(in_field("InputPath"))?,
        output_path: io_path(s, "OutputPath", false).map_err(in_field("OutputPath"))?,
        result_path: io_path(s, "ResultPath", true).map_err(in_field("ResultPath"))?,
        parameters,
        result_selector: template(s, "ResultSelector")?,
        retry,
        catch,
        next: if end { None } else { next },
        kind,
        jsonata,
        arguments: jsonata_template(s, "Arguments")?,
        output: jsonata_template(s, "Output")?,
        assign: s.get("Assign").map(|v| parse_assign(v, jsonata)).transpose().map_err(in_field("Assign"))?,
    })
}

fn jsonata_template(s: &Map<String, Value>, key: &str) -> Result<Option<JTemplate>, StateError> {
    s.get(key).map(JTemplate::parse).transpose().map_err(in_field(key))
}

/// An `Assign` object: each name is a valid variable name; values are parsed for the query
/// language (`.$` keys only in JSONPath).
fn parse_assign(v: &Value, jsonata: bool) -> Result<Assign, String> {
    let obj = v.as_object().ok_or("must be an object of variable names and values")?;
    for key in obj.keys() {
        let name = match key.strip_suffix(".$") {
            Some(_) if jsonata => {
                return Err(format!("'{key}': JSONata states use \"{{% … %}}\" values, not '.$' keys"))
            }
            Some(name) => name,
            None => key,
        };
        check_variable_name(name)?;
    }
    if jsonata {
        Ok(Assign::Jsonata(JTemplate::parse(v)?))
    } else {
        Ok(Assign::Path(Template::parse(v, "Assign")?))
    }
}

/// A whole-number field: a literal, or in a JSONata state a `{% … %}` expression.
fn count_field(v: &Value, jsonata: bool, positive: bool) -> Result<Seconds, String> {
    if jsonata && v.is_string() {
        return Expr::parse_required(v).map(Seconds::Expr);
    }
    let n = if positive { positive_int(v) } else { v.as_u64() };
    let what = if positive { "a positive integer" } else { "a non-negative integer" };
    n.map(Seconds::Fixed).ok_or_else(|| {
        if jsonata {
            format!("must be {what} or a JSONata expression")
        } else {
            format!("must be {what}")
        }
    })
}

/// Checks `Type` and that every field is valid for it; returns the type.
fn check_fields(s: &Map<String, Value>, jsonata: bool) -> Result<&str, StateError> {
    let kind_name = match s.get("Type") {
        Some(Value::String(t)) => t.as_str(),
        Some(_) => return Err(in_field("Type")("must be a string".into())),
        None => return Err("'Type' is required".into()),
    };
    let allowed = allowed_fields(kind_name).ok_or_else(|| {
        format!("unknown state Type '{kind_name}' (expected Task, Pass, Choice, Wait, Succeed, Fail, Parallel or Map)")
    })?;
    for key in s.keys() {
        let key = key.as_str();
        if jsonata && JSONPATH_ONLY.contains(&key) && allowed.contains(&key) {
            return Err(in_field(key)(format!(
                "is a JSONPath field, not valid in a JSONata state (use {})",
                jsonata_fields(kind_name).join(" or ")
            )));
        }
        let jsonata_only = jsonata_fields(kind_name).contains(&key);
        if jsonata_only && !jsonata {
            return Err(in_field(key)("is only valid in a state with QueryLanguage JSONata".into()));
        }
        if SUPPORTED_COMMON.contains(&key) || allowed.contains(&key) || jsonata_only {
            continue;
        }
        if key == "Assign" && takes_assign(kind_name) {
            continue;
        }
        if kind_name == "Map" && distributed::FIELDS.contains(&key) {
            continue;
        }
        if UNSUPPORTED.contains(&key) {
            return Err(format!("field '{key}' is not supported by this engine").into());
        }
        return Err(format!("field '{key}' is not valid in a {kind_name} state").into());
    }
    Ok(kind_name)
}

/// `Next` and `End`: a non-terminal state needs exactly one of them.
fn transitions(s: &Map<String, Value>, terminal_kind: bool) -> Result<(Option<String>, bool), StateError> {
    let next = string_field(s, "Next").map_err(in_field("Next"))?.map(str::to_string);
    let end = match s.get("End") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(in_field("End")("must be a boolean".into())),
    };
    if !terminal_kind {
        match (&next, end) {
            (Some(_), true) => return Err("a state cannot have both 'Next' and 'End': true".into()),
            (None, false) => return Err("a non-terminal state needs 'Next' or 'End': true".into()),
            _ => {}
        }
    }
    Ok((next, end))
}

fn template(s: &Map<String, Value>, key: &str) -> Result<Option<Template>, StateError> {
    s.get(key).map(|v| Template::parse(v, key)).transpose().map_err(in_field(key))
}

fn parse_retry(s: &Map<String, Value>) -> Result<Vec<Retrier>, StateError> {
    let Some(v) = s.get("Retry") else { return Ok(Vec::new()) };
    let items = v.as_array().ok_or_else(|| in_field("Retry")("must be an array".into()))?;
    let mut retry = Vec::with_capacity(items.len());
    for (i, r) in items.iter().enumerate() {
        retry.push(parse_retrier(r).map_err(in_field(format!("Retry[{i}]")))?);
    }
    check_all_last(retry.iter().map(|r| &r.errors), "Retry")?;
    Ok(retry)
}

fn parse_catch(s: &Map<String, Value>, jsonata: bool) -> Result<Vec<Catcher>, StateError> {
    let Some(v) = s.get("Catch") else { return Ok(Vec::new()) };
    let items = v.as_array().ok_or_else(|| in_field("Catch")("must be an array".into()))?;
    let mut catch = Vec::with_capacity(items.len());
    for (i, c) in items.iter().enumerate() {
        catch.push(parse_catcher(c, jsonata).map_err(in_field(format!("Catch[{i}]")))?);
    }
    check_all_last(catch.iter().map(|c| &c.errors), "Catch")?;
    Ok(catch)
}

fn parse_task(s: &Map<String, Value>, jsonata: bool) -> Result<Kind, StateError> {
    let resource =
        string_field(s, "Resource").map_err(in_field("Resource"))?.ok_or("'Resource' is required in a Task state")?;
    if resource.is_empty() {
        return Err(in_field("Resource")("must not be empty".into()));
    }
    let timeout = match (s.get("TimeoutSeconds"), s.get("TimeoutSecondsPath")) {
        (Some(_), Some(_)) => return Err("use only one of TimeoutSeconds and TimeoutSecondsPath".into()),
        (Some(v), None) => Some(count_field(v, jsonata, true).map_err(in_field("TimeoutSeconds"))?),
        (None, Some(v)) => {
            Some(Seconds::Path(reference_path(v, "TimeoutSecondsPath").map_err(in_field("TimeoutSecondsPath"))?))
        }
        (None, None) => None,
    };
    if let Some(v) = s.get("HeartbeatSeconds") {
        count_field(v, jsonata, true).map_err(in_field("HeartbeatSeconds"))?;
    }
    Ok(Kind::Task { resource: resource.to_string(), timeout })
}

fn parse_choice(s: &Map<String, Value>, jsonata: bool) -> Result<Kind, StateError> {
    let items = match s.get("Choices") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return Err(in_field("Choices")("must be a non-empty array".into())),
    };
    let mut choices = Vec::with_capacity(items.len());
    for (i, c) in items.iter().enumerate() {
        let field = format!("Choices[{i}]");
        let obj = c.as_object().ok_or_else(|| in_field(&field)("must be an object".into()))?;
        let next = string_field(obj, "Next")
            .map_err(in_field(&field))?
            .ok_or_else(|| in_field(&field)("needs 'Next'".into()))?;
        choices.push(parse_choice_rule(obj, next, jsonata).map_err(in_field(&field))?);
    }
    let default = string_field(s, "Default").map_err(in_field("Default"))?.map(str::to_string);
    Ok(Kind::Choice { choices, default })
}

/// A Choice rule: JSONata `Condition` (with optional `Assign` and `Output`), or a JSONPath
/// rule (with optional `Assign`).
fn parse_choice_rule(obj: &Map<String, Value>, next: &str, jsonata: bool) -> Result<ChoiceRule, String> {
    let assign = obj.get("Assign").map(|v| parse_assign(v, jsonata)).transpose().map_err(|e| format!("Assign: {e}"))?;
    if !jsonata {
        let mut rule = obj.clone();
        rule.remove("Assign");
        let test = ChoiceTest::Rule(Rule::parse(&rule, true)?);
        return Ok(ChoiceRule { test, next: next.to_string(), assign, output: None });
    }
    if let Some(k) = obj.keys().find(|k| !["Condition", "Next", "Assign", "Output", "Comment"].contains(&k.as_str())) {
        return Err(format!("field '{k}' is not valid in a JSONata Choice rule (use Condition)"));
    }
    let condition = obj.get("Condition").ok_or("a JSONata Choice rule needs 'Condition'")?;
    let test = ChoiceTest::Condition(Expr::parse_required(condition).map_err(|e| format!("Condition: {e}"))?);
    let output = obj.get("Output").map(JTemplate::parse).transpose().map_err(|e| format!("Output: {e}"))?;
    Ok(ChoiceRule { test, next: next.to_string(), assign, output })
}

fn parse_wait(s: &Map<String, Value>, jsonata: bool) -> Result<Kind, StateError> {
    let given: Vec<&str> =
        ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"].into_iter().filter(|k| s.contains_key(*k)).collect();
    let [key] = given[..] else {
        return Err(format!(
            "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath (found {given:?})"
        )
        .into());
    };
    let v = &s[key];
    let wrong = |message: &str| in_field(key)(message.to_string());
    Ok(Kind::Wait(match key {
        "Seconds" => WaitFor::Seconds(count_field(v, jsonata, false).map_err(in_field(key))?),
        "Timestamp" if jsonata && v.as_str().is_some_and(|t| t.starts_with("{%")) => {
            WaitFor::TimestampExpr(Expr::parse_required(v).map_err(in_field(key))?)
        }
        "SecondsPath" => WaitFor::Seconds(Seconds::Path(reference_path(v, key).map_err(in_field(key))?)),
        "Timestamp" => {
            let t = v
                .as_str()
                .filter(|t| time::parse(t).is_some())
                .ok_or_else(|| wrong("must be an RFC 3339 timestamp such as 2024-01-01T00:00:00Z"))?;
            WaitFor::Timestamp(t.to_string())
        }
        _ => WaitFor::TimestampPath(reference_path(v, key).map_err(in_field(key))?),
    }))
}

/// A Fail state's Error/Cause: the literal field `lit` or the path/intrinsic field `path`.
fn fail_source(s: &Map<String, Value>, lit: &str, path: &str, jsonata: bool) -> Result<Option<Source>, StateError> {
    match (string_field(s, lit).map_err(in_field(lit))?, string_field(s, path).map_err(in_field(path))?) {
        (Some(_), Some(_)) => Err(format!("use only one of {lit} and {path}").into()),
        (Some(v), None) if jsonata && v.starts_with("{%") => {
            Ok(Some(Source::Expr(Expr::parse_required(&s[lit]).map_err(in_field(lit))?)))
        }
        (Some(v), None) => Ok(Some(Source::Fixed(v.to_string()))),
        (None, Some(p)) => Ok(Some(Source::Dynamic(Dynamic::parse(p).map_err(in_field(path))?))),
        (None, None) => Ok(None),
    }
}

fn parse_parallel(s: &Map<String, Value>, machine_jsonata: bool) -> Result<Kind, StateError> {
    let items = match s.get("Branches") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return Err(in_field("Branches")("must be a non-empty array".into())),
    };
    let mut branches = Vec::with_capacity(items.len());
    for (i, b) in items.iter().enumerate() {
        let part = format!("branch {i}");
        let obj = b.as_object().ok_or_else(|| in_field(format!("Branches[{i}]"))("must be an object".into()))?;
        branches.push(Arc::new(nested_machine(obj, part, machine_jsonata)?));
    }
    Ok(Kind::Parallel { branches })
}

/// A Parallel branch or a Map processor; its problems are reported as [`Problem::Nested`].
fn nested_machine(obj: &Map<String, Value>, part: String, machine_jsonata: bool) -> Result<Machine, StateError> {
    for key in obj.keys() {
        if !["StartAt", "States", "Comment", "ProcessorConfig", "QueryLanguage"].contains(&key.as_str()) {
            return Err(StateError::Nested { part, problem: Problem::Machine(format!("unknown field '{key}'")) });
        }
    }
    let jsonata = query_language(obj.get("QueryLanguage"), machine_jsonata)
        .map_err(|e| StateError::Nested { part: part.clone(), problem: Problem::Machine(e) })?;
    parse_machine(obj, "this machine", jsonata).map_err(|problem| StateError::Nested { part, problem })
}

fn parse_map(s: &Map<String, Value>, jsonata: bool, machine_jsonata: bool) -> Result<Kind, StateError> {
    let (key, proc_value) = match (s.get("ItemProcessor"), s.get("Iterator")) {
        (Some(_), Some(_)) => return Err("use only one of ItemProcessor and Iterator".into()),
        (Some(v), None) => ("ItemProcessor", v),
        (None, Some(v)) => ("Iterator", v),
        (None, None) => return Err("a Map state needs 'ItemProcessor' (or the legacy 'Iterator')".into()),
    };
    let obj = proc_value.as_object().ok_or_else(|| in_field(key)("must be an object".into()))?;
    let distributed_mode = processor_mode(obj).map_err(in_field(format!("{key}.ProcessorConfig")))?;
    let distributed = if distributed_mode {
        let parsed = distributed::parse(s, jsonata).map_err(|(f, m)| in_field(f)(m))?;
        if let Some(items) = ["ItemsPath", "Items"].into_iter().find(|k| parsed.reader.is_some() && s.contains_key(*k))
        {
            return Err(format!("use only one of ItemReader and {items}").into());
        }
        Some(Box::new(parsed))
    } else {
        if let Some(f) = distributed::FIELDS.iter().find(|f| s.contains_key(**f)) {
            return Err(in_field(*f)("is only valid in a Map state with ProcessorConfig Mode DISTRIBUTED".into()));
        }
        None
    };
    let processor = Arc::new(nested_machine(obj, format!("the {key}"), machine_jsonata)?);
    let items_path = match s.get("ItemsPath") {
        None => Path::parse("$")?,
        Some(v) => reference_path(v, "ItemsPath").map_err(in_field("ItemsPath"))?,
    };
    if s.contains_key("ItemSelector") && s.contains_key("Parameters") {
        return Err("use only one of ItemSelector and Parameters".into());
    }
    let (item_selector, item_template) = if jsonata {
        (None, jsonata_template(s, "ItemSelector")?)
    } else {
        (template(s, "ItemSelector")?.or(template(s, "Parameters")?).map(Box::new), None)
    };
    let items = jsonata_template(s, "Items")?;
    let max_concurrency = match (s.get("MaxConcurrency"), s.get("MaxConcurrencyPath")) {
        (Some(_), Some(_)) => return Err("use only one of MaxConcurrency and MaxConcurrencyPath".into()),
        (Some(v), None) => count_field(v, jsonata, false).map_err(in_field("MaxConcurrency"))?,
        (None, Some(v)) => {
            Seconds::Path(reference_path(v, "MaxConcurrencyPath").map_err(in_field("MaxConcurrencyPath"))?)
        }
        (None, None) => Seconds::Fixed(0),
    };
    Ok(Kind::Map { processor, items_path, item_selector, items, item_template, max_concurrency, distributed })
}

/// ProcessorConfig: `true` for Mode DISTRIBUTED (which needs ExecutionType STANDARD or EXPRESS).
fn processor_mode(processor: &Map<String, Value>) -> Result<bool, String> {
    let Some(cfg) = processor.get("ProcessorConfig") else { return Ok(false) };
    let cfg = cfg.as_object().ok_or("must be an object")?;
    if let Some(k) = cfg.keys().find(|k| !["Mode", "ExecutionType"].contains(&k.as_str())) {
        return Err(format!("unknown field '{k}'"));
    }
    match cfg.get("Mode").map(|m| m.as_str()) {
        None | Some(Some("INLINE")) => {
            if cfg.contains_key("ExecutionType") {
                return Err("ExecutionType is only for Mode DISTRIBUTED".into());
            }
            Ok(false)
        }
        Some(Some("DISTRIBUTED")) => match cfg.get("ExecutionType").and_then(Value::as_str) {
            Some("STANDARD" | "EXPRESS") => Ok(true),
            _ => Err("Mode DISTRIBUTED needs ExecutionType \"STANDARD\" or \"EXPRESS\"".into()),
        },
        _ => Err("Mode must be \"INLINE\" or \"DISTRIBUTED\"".into()),
    }
}

fn error_list(v: Option<&Value>) -> Result<Vec<String>, String> {
    let items = v
        .and_then(|v| v.as_array())
        .filter(|a| !a.is_empty())
        .ok_or("'ErrorEquals' must be a non-empty array of error names")?;
    let errors: Vec<String> = items
        .iter()
        .map(|e| e.as_str().map(str::to_string).ok_or("'ErrorEquals' must hold strings"))
        .collect::<Result<_, _>>()?;
    if errors.iter().any(|e| e == names::ALL) && errors.len() > 1 {
        return Err("States.ALL must appear alone in its ErrorEquals".into());
    }
    Ok(errors)
}

fn check_all_last<'a>(lists: impl Iterator<Item = &'a Vec<String>>, field: &str) -> Result<(), String> {
    let lists: Vec<&Vec<String>> = lists.collect();
    for (i, l) in lists.iter().enumerate() {
        if l.iter().any(|e| e == names::ALL) && i + 1 != lists.len() {
            return Err(format!("{field}[{i}]: States.ALL must be in the last {field} entry"));
        }
    }
    Ok(())
}

fn parse_retrier(v: &Value) -> Result<Retrier, String> {
    let obj = v.as_object().ok_or("a retrier must be an object")?;
    for key in obj.keys() {
        if ![
            "ErrorEquals",
            "IntervalSeconds",
            "MaxAttempts",
            "BackoffRate",
            "MaxDelaySeconds",
            "JitterStrategy",
            "Comment",
        ]
        .contains(&key.as_str())
        {
            return Err(format!("unknown retrier field '{key}'"));
        }
    }
    let errors = error_list(obj.get("ErrorEquals"))?;
    let interval_seconds = match obj.get("IntervalSeconds") {
        None => 1,
        Some(v) => positive_int(v).ok_or("'IntervalSeconds' must be a positive integer")?,
    };
    let max_attempts = match obj.get("MaxAttempts") {
        None => 3,
        Some(v) => {
            v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or("'MaxAttempts' must be a non-negative integer")?
        }
    };
    let backoff_rate = match obj.get("BackoffRate") {
        None => 2.0,
        Some(v) => v.as_f64().filter(|r| *r >= 1.0).ok_or("'BackoffRate' must be a number >= 1.0")?,
    };
    let max_delay_seconds = match obj.get("MaxDelaySeconds") {
        None => None,
        Some(v) => Some(positive_int(v).ok_or("'MaxDelaySeconds' must be a positive integer")?),
    };
    let jitter_full = match obj.get("JitterStrategy") {
        None => false,
        Some(v) => match v.as_str() {
            Some("FULL") => true,
            Some("NONE") => false,
            _ => return Err("'JitterStrategy' must be \"FULL\" or \"NONE\"".into()),
        },
    };
    Ok(Retrier { errors, interval_seconds, max_attempts, backoff_rate, max_delay_seconds, jitter_full })
}

fn parse_catcher(v: &Value, jsonata: bool) -> Result<Catcher, String> {
    let obj = v.as_object().ok_or("a catcher must be an object")?;
    let (own, other) = if jsonata { ("Output", "ResultPath") } else { ("ResultPath", "Output") };
    for key in obj.keys() {
        if key == other {
            let ql = if jsonata { "JSONata" } else { "JSONPath" };
            return Err(format!("catcher field '{key}' is not valid in a {ql} state (use {own})"));
        }
        if !["ErrorEquals", "Next", own, "Assign", "Comment"].contains(&key.as_str()) {
            return Err(format!("unknown catcher field '{key}'"));
        }
    }
    let errors = error_list(obj.get("ErrorEquals"))?;
    let next = string_field(obj, "Next")?.ok_or("a catcher needs 'Next'")?.to_string();
    let output = obj.get("Output").map(JTemplate::parse).transpose().map_err(|e| format!("Output: {e}"))?;
    let assign = obj.get("Assign").map(|v| parse_assign(v, jsonata)).transpose().map_err(|e| format!("Assign: {e}"))?;
    Ok(Catcher { errors, next, result_path: io_path(obj, "ResultPath", true)?, output, assign })
}
