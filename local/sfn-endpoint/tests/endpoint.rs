//! The endpoint through the real aws-sdk-sfn client and raw signed HTTP: every operation, its
//! errors, pagination, and what a hostile request gets (bad JSON, unknown target, oversized
//! body, bad signature, forged page token).

use std::sync::Arc;
use std::time::Duration;

use asl::{Definition, Engine, EngineOptions, TaskContext, TaskFuture, TaskInvoker};
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use chrono::Utc;
use serde_json::{json, Value};
use sfn_endpoint::{Config, SfnEndpoint};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

const ACCESS_KEY: &str = "AKIALOCALSFN";
const SECRET_KEY: &str = "local/sfn+SECRET/1";
const REGION: &str = "eu-west-1";

/// Blocks forever in a `block` task; answers `{"done": true}` from any other.
struct Invoker;
impl TaskInvoker for Invoker {
    fn invoke(&self, resource: &str, _: Value, _: TaskContext) -> TaskFuture<'_> {
        let block = resource.contains("block");
        Box::pin(async move {
            if block {
                std::future::pending::<()>().await;
            }
            Ok(json!({"done": true}))
        })
    }
}

fn definition() -> Definition {
    let text = json!({"StartAt": "Choose", "States": {
        "Choose": {"Type": "Choice", "Choices": [{"Variable": "$.block", "IsPresent": true, "Next": "Block"}], "Default": "Work"},
        "Block": {"Type": "Task", "Resource": "block", "End": true},
        "Work": {"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:work", "ResultPath": "$.work", "End": true}
    }});
    Definition::parse(&text.to_string()).unwrap()
}

struct Stack {
    endpoint: SfnEndpoint,
    engine: Arc<Engine>,
    machine: String,
}

async fn start() -> Stack {
    let engine = Engine::in_memory(Arc::new(Invoker), EngineOptions { time_scale: 0.0, ..Default::default() }).unwrap();
    let machine = engine.register_state_machine("pipeline", definition());
    let engine = Arc::new(engine);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint =
        sfn_endpoint::start(Config::new(ACCESS_KEY, SECRET_KEY, REGION), listener, engine.clone()).await.unwrap();
    Stack { endpoint, engine, machine }
}

fn client_with(url: &str, access_key: &str, secret: &str) -> aws_sdk_sfn::Client {
    let conf = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(access_key, secret, None, None, "test"))
        .build();
    aws_sdk_sfn::Client::from_conf(conf)
}

fn client(url: &str) -> aws_sdk_sfn::Client {
    client_with(url, ACCESS_KEY, SECRET_KEY)
}

fn code<E: aws_sdk_sfn::error::ProvideErrorMetadata>(err: &E) -> String {
    err.code().unwrap_or_default().to_owned()
}

async fn finished(engine: &Engine, arn: &str) -> asl::ExecutionDescription {
    tokio::time::timeout(Duration::from_secs(10), engine.wait(arn)).await.unwrap().unwrap()
}

#[tokio::test]
async fn state_machines_are_listed_and_described() {
    let stack = start().await;
    let sfn = client(&stack.endpoint.url);
    let listed = sfn.list_state_machines().send().await.unwrap();
    let machines = listed.state_machines();
    assert_eq!(machines.len(), 1);
    assert_eq!((machines[0].state_machine_arn(), machines[0].name()), (stack.machine.as_str(), "pipeline"));
    let created = machines[0].creation_date().secs();
    assert!((Utc::now().timestamp() - created).abs() < 60, "creation date {created}");
    assert!(listed.next_token().is_none());

    let described = sfn.describe_state_machine().state_machine_arn(&stack.machine).send().await.unwrap();
    assert_eq!(described.definition(), definition().as_json());
    assert_eq!(described.r#type().as_str(), "STANDARD");

    let missing = stack.machine.replace("pipeline", "nope");
    let err = sfn.describe_state_machine().state_machine_arn(&missing).send().await.unwrap_err();
    assert_eq!(code(&err), "StateMachineDoesNotExist");
    let err = sfn.describe_state_machine().state_machine_arn("not-an-arn").send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidArn");
}

#[tokio::test]
async fn executions_start_run_and_describe_like_step_functions() {
    let stack = start().await;
    let sfn = client(&stack.endpoint.url);
    let started = sfn
        .start_execution()
        .state_machine_arn(&stack.machine)
        .name("first")
        .input(r#"{"k": 1}"#)
        .send()
        .await
        .unwrap();
    assert!(started.execution_arn().ends_with(":execution:pipeline:first"));
    assert!((Utc::now().timestamp() - started.start_date().secs()).abs() < 60);
    finished(&stack.engine, started.execution_arn()).await;

    let described = sfn.describe_execution().execution_arn(started.execution_arn()).send().await.unwrap();
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(described.output().unwrap()).unwrap();
    assert_eq!(output, json!({"k": 1, "work": {"done": true}}));
    assert!(described.stop_date().unwrap().as_nanos() >= described.start_date().as_nanos());
    let metadata = sfn
        .describe_execution()
        .execution_arn(started.execution_arn())
        .included_data(aws_sdk_sfn::types::IncludedData::MetadataOnly)
        .send()
        .await
        .unwrap();
    assert!(metadata.input().is_none() && metadata.output().is_none());

    // The same name again, now that it has ended, is ExecutionAlreadyExists; bad input and names are refused.
    let again = sfn.start_execution().state_machine_arn(&stack.machine).name("first").input(r#"{"k": 1}"#).send();
    assert_eq!(code(&again.await.unwrap_err()), "ExecutionAlreadyExists");
    let bad_input = sfn.start_execution().state_machine_arn(&stack.machine).input("{not json").send();
    assert_eq!(code(&bad_input.await.unwrap_err()), "InvalidExecutionInput");
    let huge = format!("[{}1]", "1,".repeat(131_072));
    let too_large = sfn.start_execution().state_machine_arn(&stack.machine).input(huge).send();
    assert_eq!(code(&too_large.await.unwrap_err()), "ValidationException", "over 262144 characters");
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let too_deep = sfn.start_execution().state_machine_arn(&stack.machine).input(deep).send();
    assert_eq!(code(&too_deep.await.unwrap_err()), "InvalidExecutionInput", "nesting past the parser's limit");
    let bad_name = sfn.start_execution().state_machine_arn(&stack.machine).name("a b").send();
    assert_eq!(code(&bad_name.await.unwrap_err()), "InvalidName");
    let no_machine = sfn.start_execution().state_machine_arn(stack.machine.replace("pipeline", "nope")).send();
    assert_eq!(code(&no_machine.await.unwrap_err()), "StateMachineDoesNotExist");
    let unknown = sfn.describe_execution().execution_arn(started.execution_arn().replace("first", "other")).send();
    assert_eq!(code(&unknown.await.unwrap_err()), "ExecutionDoesNotExist");
    let wrong_kind = sfn.describe_execution().execution_arn(&stack.machine).send();
    assert_eq!(code(&wrong_kind.await.unwrap_err()), "InvalidArn");
}

#[tokio::test]
async fn a_running_execution_is_idempotent_by_name_and_input_and_can_be_stopped() {
    let stack = start().await;
    let sfn = client(&stack.endpoint.url);
    let start = || sfn.start_execution().state_machine_arn(&stack.machine).name("long").input(r#"{"block": 1}"#).send();
    let first = start().await.unwrap();
    assert_eq!(start().await.unwrap().execution_arn(), first.execution_arn(), "same name and input while RUNNING");
    let other_input = sfn.start_execution().state_machine_arn(&stack.machine).name("long").input("{}").send();
    assert_eq!(code(&other_input.await.unwrap_err()), "ExecutionAlreadyExists");

    let stopped = sfn.stop_execution().execution_arn(first.execution_arn()).error("Operator").cause("enough").send();
    let stopped = stopped.await.unwrap();
    let described = sfn.describe_execution().execution_arn(first.execution_arn()).send().await.unwrap();
    assert_eq!(described.status(), &ExecutionStatus::Aborted);
    assert_eq!((described.error(), described.cause()), (Some("Operator"), Some("enough")));
    assert_eq!(described.stop_date().map(|d| d.secs()), Some(stopped.stop_date().secs()));
    let history = sfn.get_execution_history().execution_arn(first.execution_arn()).reverse_order(true).send();
    let last = history.await.unwrap().events()[0].clone();
    assert_eq!(last.r#type(), &HistoryEventType::ExecutionAborted);
    assert_eq!(last.execution_aborted_event_details().and_then(|d| d.error()), Some("Operator"));
    let too_long = sfn.stop_execution().execution_arn(first.execution_arn()).error("e".repeat(257)).send();
    assert_eq!(code(&too_long.await.unwrap_err()), "ValidationException");
    let missing = sfn.stop_execution().execution_arn(first.execution_arn().replace("long", "gone")).send();
    assert_eq!(code(&missing.await.unwrap_err()), "ExecutionDoesNotExist");
}

#[tokio::test]
async fn history_has_aws_event_types_and_fields_and_pages_both_ways() {
    let stack = start().await;
    let sfn = client(&stack.endpoint.url);
    let arn = sfn.start_execution().state_machine_arn(&stack.machine).input("{}").send().await.unwrap();
    let arn = arn.execution_arn().to_owned();
    finished(&stack.engine, &arn).await;

    let all = sfn.get_execution_history().execution_arn(&arn).send().await.unwrap();
    let types: Vec<&str> = all.events().iter().map(|e| e.r#type().as_str()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    let events = all.events();
    let started = events[0].execution_started_event_details().unwrap();
    assert_eq!((started.input(), started.role_arn()), (Some("{}"), Some(sfn_endpoint::ROLE_ARN)));
    let scheduled = events[4].task_scheduled_event_details().unwrap();
    assert_eq!(scheduled.resource(), "arn:aws:lambda:local:000000000000:function:work");
    assert_eq!(events[4].previous_event_id(), events[3].id());
    assert!((Utc::now().timestamp() - events[0].timestamp().secs()).abs() < 60);

    // Pages of 2, forwards and backwards, add up to the whole history.
    for reverse in [false, true] {
        let mut ids = Vec::new();
        let mut token = None;
        loop {
            let page = sfn
                .get_execution_history()
                .execution_arn(&arn)
                .max_results(2)
                .reverse_order(reverse)
                .set_next_token(token.clone())
                .send()
                .await
                .unwrap();
            assert!(page.events().len() <= 2);
            ids.extend(page.events().iter().map(|e| e.id()));
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let mut expected: Vec<i64> = events.iter().map(|e| e.id()).collect();
        if reverse {
            expected.reverse();
        }
        assert_eq!(ids, expected, "reverse: {reverse}");
    }
    let without_data = sfn.get_execution_history().execution_arn(&arn).include_execution_data(false).send();
    let first = without_data.await.unwrap().events()[0].clone();
    assert!(first.execution_started_event_details().unwrap().input().is_none());
}

#[tokio::test]
async fn assigned_variables_reach_the_sdk_and_go_with_the_execution_data() {
    let stack = start().await;
    let text = json!({"QueryLanguage": "JSONata", "StartAt": "Count", "States": {
        "Count": {"Type": "Pass", "Assign": {"count": "{% $states.input.n + 1 %}", "who": "imgpipe"}, "End": true}
    }});
    let machine = stack.engine.register_state_machine("variables", Definition::parse(&text.to_string()).unwrap());
    let sfn = client(&stack.endpoint.url);
    let started = sfn.start_execution().state_machine_arn(&machine).input(r#"{"n": 41}"#).send().await.unwrap();
    let arn = started.execution_arn().to_owned();
    finished(&stack.engine, &arn).await;

    let exited = |events: &[aws_sdk_sfn::types::HistoryEvent]| {
        let event = events.iter().find(|e| e.r#type() == &HistoryEventType::PassStateExited).cloned();
        event.and_then(|e| e.state_exited_event_details().cloned()).expect("a PassStateExited event")
    };
    let all = sfn.get_execution_history().execution_arn(&arn).send().await.unwrap();
    let details = exited(all.events());
    let assigned = details.assigned_variables().expect("assignedVariables");
    assert_eq!((assigned["count"].as_str(), assigned["who"].as_str()), ("42", "\"imgpipe\""));
    assert_eq!(details.assigned_variables_details().map(|d| d.truncated()), Some(false));

    let metadata = sfn.get_execution_history().execution_arn(&arn).include_execution_data(false).send();
    let details = exited(metadata.await.unwrap().events());
    assert!(details.assigned_variables().is_none() && details.output().is_none(), "{details:?}");
}

#[tokio::test]
async fn executions_list_newest_first_by_status_in_pages() {
    let stack = start().await;
    let sfn = client(&stack.endpoint.url);
    let mut done = Vec::new();
    for n in 0..5 {
        let started = sfn.start_execution().state_machine_arn(&stack.machine).name(format!("run-{n}")).send();
        let arn = started.await.unwrap().execution_arn().to_owned();
        finished(&stack.engine, &arn).await;
        done.push(arn);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let running = sfn.start_execution().state_machine_arn(&stack.machine).input(r#"{"block": true}"#).send();
    let running = running.await.unwrap().execution_arn().to_owned();

    let mut listed = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = sfn
            .list_executions()
            .state_machine_arn(&stack.machine)
            .status_filter(ExecutionStatus::Succeeded)
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        listed.extend(page.executions().iter().map(|e| e.execution_arn().to_owned()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    done.reverse();
    assert_eq!((listed, pages), (done, 3));
    let running_only =
        sfn.list_executions().state_machine_arn(&stack.machine).status_filter(ExecutionStatus::Running).send();
    let running_only = running_only.await.unwrap();
    assert_eq!(running_only.executions().len(), 1);
    assert_eq!(running_only.executions()[0].execution_arn(), running);
    assert!(running_only.executions()[0].stop_date().is_none());

    let too_many = sfn.list_executions().state_machine_arn(&stack.machine).max_results(1001).send();
    assert_eq!(code(&too_many.await.unwrap_err()), "ValidationException");
    let other = sfn.list_executions().state_machine_arn(stack.machine.replace("pipeline", "other")).send();
    assert_eq!(code(&other.await.unwrap_err()), "StateMachineDoesNotExist");
}

#[tokio::test]
async fn page_tokens_cannot_be_forged_or_moved_to_another_request() {
    let stack = start().await;
    let sfn = client(&stack.endpoint.url);
    for n in 0..3 {
        sfn.start_execution().state_machine_arn(&stack.machine).name(format!("e{n}")).send().await.unwrap();
    }
    let page = sfn.list_executions().state_machine_arn(&stack.machine).max_results(1).send().await.unwrap();
    let token = page.next_token().unwrap().to_owned();
    let list = |token: String| sfn.list_executions().state_machine_arn(&stack.machine).max_results(1).next_token(token);
    assert!(list(token.clone()).send().await.is_ok());

    let (payload, signature) = token.split_once('.').unwrap();
    let mut altered = payload.to_owned();
    altered.replace_range(..1, if altered.starts_with('e') { "f" } else { "e" });
    let filtered = sfn
        .list_executions()
        .state_machine_arn(&stack.machine)
        .status_filter(ExecutionStatus::Failed)
        .next_token(token.clone())
        .send();
    assert_eq!(code(&filtered.await.unwrap_err()), "InvalidToken", "a token of another filter");
    let history = sfn.get_execution_history().execution_arn(page.executions()[0].execution_arn()).next_token(&token);
    assert_eq!(code(&history.send().await.unwrap_err()), "InvalidToken", "a token of another operation");
    for forged in [format!("{altered}.{signature}"), "eyJzY29wZSI6IiJ9.AAAA".into(), "garbage".into()] {
        let err = list(forged.clone()).send().await.unwrap_err();
        assert_eq!(code(&err), "InvalidToken", "{forged}");
    }
    let err = list("x".repeat(4000)).send().await.unwrap_err();
    assert_eq!(code(&err), "ValidationException", "over the model's 3096 characters");
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let stack = start().await;
    let err = client_with(&stack.endpoint.url, ACCESS_KEY, "not-the-secret").list_state_machines().send().await;
    assert_eq!(code(&err.unwrap_err()), "InvalidSignatureException");
    let err = client_with(&stack.endpoint.url, "AKIAINTRUDER", SECRET_KEY).list_state_machines().send().await;
    assert_eq!(code(&err.unwrap_err()), "UnrecognizedClientException");
}

/// A SigV4-signed POST of `body` with `target`, as the SDK would send it.
async fn signed_post(url: &str, target: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let host = url.trim_start_matches("http://");
    let now = Utc::now();
    let (date, day) = (now.format("%Y%m%dT%H%M%SZ").to_string(), now.format("%Y%m%d").to_string());
    let mut headers = vec![("host", host.to_owned()), ("x-amz-date", date.clone())];
    if let Some(target) = target {
        headers.push(("x-amz-target", target.to_owned()));
    }
    let signed: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let canonical =
        format!("POST\n/\n\n{canonical_headers}\n{}\n{}", signed.join(";"), hex::encode(Sha256::digest(&body)));
    let scope = format!("{day}/{REGION}/states/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let key = sigv4::signing_key(SECRET_KEY, &day, REGION, "states");
    let signature = hex::encode(sigv4::hmac_sha256(&key, to_sign.as_bytes()));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={}, Signature={signature}",
        signed.join(";")
    );
    let mut request = reqwest::Client::new()
        .post(format!("{url}/"))
        .header("x-amz-date", date)
        .header("authorization", authorization)
        .header("content-type", "application/x-amz-json-1.0");
    if let Some(target) = target {
        request = request.header("x-amz-target", target);
    }
    let response = request.body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn raw_requests_get_protocol_errors() {
    let stack = start().await;
    let url = &stack.endpoint.url;
    let list = Some("AWSStepFunctions.ListStateMachines");
    let (status, ok) = signed_post(url, list, b"{}".to_vec()).await;
    assert_eq!((status, ok["stateMachines"][0]["name"].as_str()), (200, Some("pipeline")));

    let (status, bad) = signed_post(url, list, b"{not json".to_vec()).await;
    assert_eq!((status, bad["__type"].as_str()), (400, Some("com.amazon.coral.service#SerializationException")));
    let (_, wrong_type) = signed_post(url, list, br#"{"maxResults": "ten"}"#.to_vec()).await;
    assert_eq!(wrong_type["__type"], "com.amazon.coral.service#SerializationException");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let (status, _) = signed_post(url, list, deep).await;
    assert_eq!(status, 400, "deep JSON is an error, not a stack overflow");

    for target in ["AWSStepFunctions.DeleteStateMachine", "DynamoDB_20120810.ListTables", "AWSStepFunctions."] {
        let (status, unknown) = signed_post(url, Some(target), b"{}".to_vec()).await;
        assert_eq!(
            (status, unknown["__type"].as_str()),
            (400, Some("com.amazon.coral.service#UnknownOperationException"))
        );
    }
    // The target must be signed, so a request without one is refused before any operation.
    let (status, untargeted) = signed_post(url, None, b"{}".to_vec()).await;
    assert_eq!(
        (status, untargeted["__type"].as_str()),
        (400, Some("com.amazon.coral.service#InvalidSignatureException"))
    );
    let (status, missing) = signed_post(url, Some("AWSStepFunctions.DescribeExecution"), b"{}".to_vec()).await;
    assert_eq!(status, 400);
    assert_eq!(missing["__type"], "com.amazon.coral.validate#ValidationException");
    assert!(missing["message"].as_str().unwrap().contains("Value null at 'executionArn'"), "{missing}");

    let huge = vec![b' '; 3 * 1024 * 1024];
    let (status, too_large) = signed_post(url, list, huge).await;
    assert_eq!((status, too_large["__type"].as_str()), (413, Some("com.amazon.coral.service#RequestEntityTooLarge")));

    // A signed request replayed with another body is refused; so is one without a signature.
    let (status, tampered) = {
        let response = reqwest::Client::new()
            .post(format!("{url}/"))
            .header("x-amz-target", "AWSStepFunctions.ListStateMachines")
            .body("{}")
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(status, 400);
    assert!(tampered.contains("MissingAuthenticationTokenException"), "{tampered}");
    let get = reqwest::get(format!("{url}/")).await.unwrap();
    assert_eq!(get.status().as_u16(), 404);
}

#[tokio::test]
async fn only_loopback() {
    let engine = Arc::new(Engine::in_memory(Arc::new(Invoker), EngineOptions::default()).unwrap());
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let refused = sfn_endpoint::start(Config::new(ACCESS_KEY, SECRET_KEY, REGION), listener, engine).await;
    assert!(matches!(refused, Err(sfn_endpoint::Error::NotLoopback(_))));
}
