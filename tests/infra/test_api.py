"""The HTTP API and sign-in: which routes are public, that every other route takes only Cognito access
tokens of this stack's page client, per-route throttles, access logs, and what GET /config is told."""

from __future__ import annotations

import json
import re

import pytest

from infra_support import REPO

#: The only routes anyone may call signed out: the page and its files, its sign-in settings, a health check.
PUBLIC_ROUTES = {"GET /", "GET /{proxy+}", "GET /config", "GET /health"}
#: What each access log line must say, and the $context variable that says it.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "route": "$context.routeKey",
    "status": "$context.status",
    "latency": "$context.responseLatency",
}


def of_type(resources: dict, kind: str) -> dict:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def routes(resources: dict) -> dict[str, dict]:
    found = {}
    for logical_id, res in of_type(resources, "AWS::ApiGatewayV2::Route").items():
        props = res["Properties"]
        assert props["ApiId"] == {"Ref": "HttpApi"}, logical_id
        assert props["RouteKey"] not in found, f"route {props['RouteKey']} defined twice"
        found[props["RouteKey"]] = dict(props, LogicalId=logical_id)
    return found


def integration_function(resources: dict, route: dict) -> str:
    target = route["Target"]["Fn::Sub"]
    integration = re.fullmatch(r"integrations/\$\{(\w+)\}", target).group(1)
    props = resources[integration]["Properties"]
    assert props["IntegrationType"] == "AWS_PROXY" and props["PayloadFormatVersion"] == "2.0"
    return props["IntegrationUri"]["Fn::GetAtt"][0]


def test_no_sam_http_api_and_no_cors(resources):
    """Same origin: the API serves the page, so the API sends no CORS headers at all."""
    assert not of_type(resources, "AWS::Serverless::HttpApi")
    api = resources["HttpApi"]
    assert api["Type"] == "AWS::ApiGatewayV2::Api" and api["Properties"]["ProtocolType"] == "HTTP"
    assert "CorsConfiguration" not in api["Properties"]
    for fn in of_type(resources, "AWS::Serverless::Function").values():
        events = (fn["Properties"].get("Events") or {}).values()
        assert not any(e["Type"] in {"Api", "HttpApi"} for e in events), "routes are ApiGatewayV2 resources, not SAM events"


def test_api_definition_refers_to_nothing_so_the_client_can_name_its_url(resources):
    """The app client's callback URL names the API; the API must therefore not depend on the client."""
    assert set(resources["HttpApi"]["Properties"]) <= {"Name", "ProtocolType", "Description"}


def test_public_routes_are_exactly_the_page_config_and_health(resources):
    public = {key for key, r in routes(resources).items() if r.get("AuthorizationType", "NONE") == "NONE"}
    assert public == PUBLIC_ROUTES


def test_every_other_route_takes_only_access_tokens_of_this_pool(resources):
    found = routes(resources)
    protected = set(found) - PUBLIC_ROUTES
    assert {"POST /uploads", "GET /images", "GET /images/{id}", "DELETE /images/{id}", "GET /images/{id}/timeline"} <= protected
    servers = of_type(resources, "AWS::Cognito::UserPoolResourceServer").values()
    custom_scopes = {
        f"{s['Properties']['Identifier']}/{scope['ScopeName']}"
        for s in servers
        if s["Properties"]["UserPoolId"] == {"Ref": "UserPool"}
        for scope in s["Properties"]["Scopes"]
    }
    client_scopes = set(resources["UserPoolClient"]["Properties"]["AllowedOAuthScopes"])
    for key in protected:
        route = found[key]
        assert route["AuthorizationType"] == "JWT", key
        authorizer = resources[route["AuthorizerId"]["Ref"]]["Properties"]
        assert authorizer["AuthorizerType"] == "JWT" and authorizer["ApiId"] == {"Ref": "HttpApi"}
        scopes = set(route.get("AuthorizationScopes", []))
        # Cognito ID tokens carry no scope claim: requiring a resource-server scope admits access tokens only.
        assert scopes and scopes <= custom_scopes, f"{key}: scopes {scopes} are not this pool's API scopes {custom_scopes}"
        assert scopes <= client_scopes, f"{key}: the page's client cannot obtain {scopes - client_scopes}"


def test_authorizer_checks_the_pools_issuer_and_the_page_clients_audience(resources):
    (authorizer,) = of_type(resources, "AWS::ApiGatewayV2::Authorizer").values()
    props = authorizer["Properties"]
    assert props["IdentitySource"] == ["$request.header.Authorization"]
    jwt = props["JwtConfiguration"]
    assert jwt["Issuer"] == {"Fn::Sub": "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${UserPool}"}
    assert jwt["Audience"] == [{"Ref": "UserPoolClient"}]


def test_routes_reach_the_functions_that_serve_them(resources):
    for key, route in routes(resources).items():
        expected = "PresignFunction" if key == "POST /uploads" else "QueryFunction"
        assert integration_function(resources, route) == expected, key
    invoked = {integration_function(resources, r) for r in routes(resources).values()}
    permitted = {
        p["Properties"]["FunctionName"]["Ref"]
        for p in of_type(resources, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
        and "${HttpApi}/" in p["Properties"]["SourceArn"]["Fn::Sub"]
    }
    assert invoked == permitted


def test_page_client_is_public_code_flow_back_to_the_page(resources):
    props = resources["UserPoolClient"]["Properties"]
    assert props["GenerateSecret"] is False, "a browser cannot keep a client secret; PKCE protects the code instead"
    assert props["AllowedOAuthFlowsUserPoolClient"] is True
    assert props["AllowedOAuthFlows"] == ["code"]
    assert props["SupportedIdentityProviders"] == ["COGNITO"]
    page = {"Fn::If": ["HasFrontendOrigin", {"Fn::Sub": "${FrontendOrigin}/"}, {"Fn::Sub": "${HttpApi.ApiEndpoint}/"}]}
    assert props["CallbackURLs"] == [page] and props["LogoutURLs"] == [page]
    assert not {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"} & set(props.get("ExplicitAuthFlows", []))


def test_user_pool_signs_in_by_email_and_self_sign_up_follows_the_parameter(template, resources):
    pool = resources["UserPool"]["Properties"]
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] == {"Fn::If": ["SelfSignUp", False, True]}
    assert template["Conditions"]["SelfSignUp"] == {"Fn::Equals": [{"Ref": "AllowSelfSignUp"}, "true"]}
    assert template["Parameters"]["AllowSelfSignUp"]["Default"] == "false"
    domain = resources["UserPoolDomain"]["Properties"]
    assert domain["UserPoolId"] == {"Ref": "UserPool"}
    assert domain["Domain"]["Fn::If"][1] == {"Ref": "AuthDomainPrefix"}


def test_config_document_is_told_what_the_authorizer_checks(resources):
    env = resources["QueryFunction"]["Properties"]["Environment"]["Variables"]
    (authorizer,) = of_type(resources, "AWS::ApiGatewayV2::Authorizer").values()
    jwt = authorizer["Properties"]["JwtConfiguration"]
    assert env["USER_POOL_ISSUER"] == jwt["Issuer"]
    assert [env["USER_POOL_CLIENT_ID"]] == jwt["Audience"]
    client_scopes = resources["UserPoolClient"]["Properties"]["AllowedOAuthScopes"]
    assert env["AUTH_SCOPES"].split() == client_scopes
    domain_prefix = resources["UserPoolDomain"]["Properties"]["Domain"]
    text, values = env["AUTH_DOMAIN_URL"]["Fn::Sub"]
    assert text == "https://${Prefix}.auth.${AWS::Region}.amazoncognito.com" and values["Prefix"] == domain_prefix
    assert env["MAX_IMAGE_BYTES"] == {"Ref": "MaxImageBytes"}


def test_api_url_is_the_page_and_its_sign_in_callback(template, resources):
    """The stack's ApiUrl output opens the page (GET / reaches the function that embeds it), and the
    page's own URL - its origin and "/", as the page computes its redirect URI - is the client's callback."""
    assert template["Outputs"]["ApiUrl"]["Value"] == {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}
    page = routes(resources)["GET /"]
    assert integration_function(resources, page) == "QueryFunction"
    assert page.get("AuthorizationType", "NONE") == "NONE"
    callback = resources["UserPoolClient"]["Properties"]["CallbackURLs"][0]["Fn::If"][2]
    assert callback == {"Fn::Sub": "${HttpApi.ApiEndpoint}/"}
    app_js = (REPO / "frontend" / "js" / "app.js").read_text(encoding="utf-8")
    assert "`${window.location.origin}/`" in app_js, "the page's redirect URI is no longer its origin and /"
    assert not (REPO / "frontend" / "config.js").exists(), "the page reads everything from GET /config"


def test_cursor_secret_is_generated_and_the_same_for_every_instance(resources):
    """List cursors are HMAC-signed with CURSOR_SECRET; unset, each Lambda instance would pick its own
    and a cursor from one would fail on the next. The stack generates one and hands it to the function."""
    env = resources["QueryFunction"]["Properties"]["Environment"]["Variables"]
    assert env["CURSOR_SECRET"] == {"Fn::Sub": "{{resolve:secretsmanager:${CursorSecret}:SecretString}}"}
    secret = resources["CursorSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    props = secret["Properties"]
    assert "SecretString" not in props, "the key is generated, never written in the template"
    assert props["GenerateSecretString"]["PasswordLength"] >= 32
    assert "SecretStringTemplate" not in props["GenerateSecretString"], "the whole SecretString is the key"


# ------------------------------------------------------------------ stage: throttles and access logs


@pytest.fixture
def stage(resources) -> dict:
    (stage,) = of_type(resources, "AWS::ApiGatewayV2::Stage").values()
    return stage


def test_every_route_has_its_own_throttle(resources, stage):
    props = stage["Properties"]
    assert props["StageName"] == "$default" and props["AutoDeploy"] is True
    settings = props["RouteSettings"]
    assert set(settings) == set(routes(resources)), "each route gets its own limits"
    default = props["DefaultRouteSettings"]
    for key, limits in settings.items():
        assert 0 < limits["ThrottlingRateLimit"] <= limits["ThrottlingBurstLimit"], key
    # Writes cost the most (a record and a pipeline run, or a delete): the tightest limits.
    for key in ("POST /uploads", "DELETE /images/{id}"):
        assert settings[key]["ThrottlingRateLimit"] == min(s["ThrottlingRateLimit"] for s in settings.values())
        assert settings[key]["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]
    # RouteSettings may only name routes that exist when the stage is created.
    assert set(stage["DependsOn"]) == {r["LogicalId"] for r in routes(resources).values()}


def test_access_logs_are_json_with_the_fields_an_investigation_needs(resources, stage):
    logs = stage["Properties"]["AccessLogSettings"]
    group = resources[logs["DestinationArn"]["Fn::GetAtt"][0]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    line = json.loads(logs["Format"])
    for field, variable in ACCESS_LOG_FIELDS.items():
        assert line.get(field) == variable, field
