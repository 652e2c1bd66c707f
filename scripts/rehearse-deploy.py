#!/usr/bin/env python3
"""Deploy rehearsal: template.yaml translated offline and created in moto's CloudFormation.

Usage: .venv/bin/python scripts/rehearse-deploy.py [--template F] [--verbose]

1. Translates the SAM template with the `samtranslator` library, as
   `sam deploy`'s transform would, offline: AWS managed policies come from
   the list bundled with samtranslator (no IAM call); SAM policy templates
   resolve from its own data. Each function's CodeUri becomes a placeholder
   zip in a moto S3 bucket.
2. Checks the template's Rules against the parameter sets rehearsed (and
   that giving neither Cloudinary value is refused), and what publishes a
   new version of a function: a change of its properties in the template
   does, a parameter's value alone does not (as docs/operations.md says).
3. Creates samconfig.toml's two environments, `staging` and `prod`, in one
   moto account and region (in process, fake credentials, us-east-1, no
   network), one after the other as the deploy workflow does: each stack
   with its samconfig stack name and parameter overrides, plus what its
   first deployment is given by hand (staging: the stack creates both
   secrets, an alarm e-mail; prod: existing secrets' ARNs, no e-mail).
   A name the two would share (a fixed FunctionName, AlarmName, log group,
   schedule name, ...) fails: in the translated template, for every type,
   and as moto saw it (the second stack's creation fails, or the two
   stacks hold a physical id in common).
4. Asserts, by asking moto's services (not the template), that each stack
   is CREATE_COMPLETE and holds the alarms, the log groups with their
   retention, the secrets and who may read them, the dead-letter queue,
   the SNS topic, the table with TTL on `expires_at`, deletion
   protection and its indexes, the functions' environment, the HTTP API's routes (each
   invoking its function's alias), CORS and stage (throttling, access logs),
   the dashboard (every function in its widgets; each SEARCH query within
   CloudWatch's 1,024 characters even with a 40-character stack name),
   and the gradual deploys: every function's published version and alias,
   the CodeDeploy application and each function's deployment group (its
   deployment configuration, the service role, rollback on alarms), the
   HTTP functions' rollback alarms (Errors and p99 Duration of the alias,
   the API's 5xx), and that the triggers invoke the alias (the API's
   integrations and permissions, the stream mapping, the schedule and its
   role, the asynchronous retries, the ScheduledDuplicateFunctionArn output).
   And capacity (decision 0017): each copying function's reserved
   concurrency (none elsewhere; staging rehearses 0 = none for the worker)
   and that its route's throttle fits it, both stacks' reservations leaving
   100 executions of the default limit unreserved, the per-route throttles
   of the stage, and each capacity and dependency alarm (claimed account
   concurrency, API latency without the copies, 5xx ratio, the table's and
   every index's throttles, system errors of every DynamoDB operation a
   policy allows, dead-letter delivery failures, Scheduler target errors
   of the stack's schedule group, the oldest dead letter's age) with the
   metrics and dimensions of this stack's resources, and its widget.

moto's CloudFormation creates only the types it has a model for; any other
resource is skipped: moto logs "No Moto CloudFormation support for <type>"
on the "moto" logger and warns "Tried to parse <type> but it's not
supported by moto's CloudFormation implementation" (a UserWarning). The
rehearsal collects both and prints the types. A few of those it creates
itself through moto's own service APIs, with the resource's properties
passed as the API's parameters (botocore validates them against the
service model): CloudWatch alarms, Secrets Manager secrets, SNS
subscriptions, the HTTP API and its stage, Lambda aliases, the CodeDeploy
application and deployment groups, Scheduler schedules and schedule
groups. What moto's
services do not keep is checked as CloudFormation resolved it (the
properties each bridged resource, permission and stream mapping was
created with): the deployment groups' alarms, the permissions' and the
mapping's function. The rest are checked by cfn-lint alone (`make lint`)
and in the translated template where said (the aliases' UpdatePolicy,
the asynchronous retries' qualifier). CodeDeploy shifting traffic and
rolling it back needs AWS itself: no emulator runs a deployment.

Prints the stack status, the resource count by type and the types moto
could not create; exits 1 on any failed assertion.
"""

from __future__ import annotations

import argparse
import ast
import copy
import io
import json
import logging
import os
import re
import sys
import time
import tomllib
import warnings
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

STARTED = time.monotonic()  # before the heavy imports: the run's time includes them
ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
CODE_BUCKET = "rehearsal-code"

# Offline and fake before boto3 or moto is imported: no profile, no real
# endpoint, no credentials of the machine.
for var in list(os.environ):
    if var.startswith("AWS_"):
        del os.environ[var]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAM_CLI_TELEMETRY": "0",
    }
)

import boto3  # noqa: E402
import botocore.session  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.cloudformation import parsing as cfn_parsing  # noqa: E402
from moto.core.common_models import CloudFormationModel  # noqa: E402
from samcli.cli.types import CfnParameterOverridesType  # noqa: E402
from samcli.yamlhelper import yaml_parse  # noqa: E402
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402

# The types moto's CloudFormation creates by itself (before the bridges below exist).
NATIVE_TYPES = frozenset(cfn_parsing.get_model_map()) | frozenset(cfn_parsing.NULL_MODELS)

HTTP_FUNCTIONS = [
    "DuplicateAlbumFunction",
    "CreateAlbumFunction",
    "GetAlbumFunction",
    "ListAlbumsFunction",
    "ListImagesFunction",
    "DeleteImageFunction",
    "CloudinaryNotificationFunction",
    "GetDuplicationFunction",
    "CreateTagFunction",
    "ListTagsFunction",
    "TagImagesFunction",
    "ListTagImagesFunction",
    "DeleteTagImageFunction",
    "UpdateAlbumFunction",
    "GetUsageFunction",
    "GetImageFunction",
    "UpdateImageFunction",
    "DeleteImagesFunction",
    "ListTrashedImagesFunction",
    "RestoreTrashedImageFunction",
    "QueryTagImagesFunction",
    "DuplicateImageFunction",
    "MoveImagesFunction",
    "EmbedImageFunction",
    "CreateImportFunction",
    "GetImportFunction",
]
FUNCTIONS = HTTP_FUNCTIONS + ["ScheduledDuplicateFunction", "DuplicationWorkerFunction"]
# Present only when the stack creates the JWT secret and rotates it
# (decision 0018); checked by assert_rotation.
ROTATION_FUNCTION = "JwtSecretRotationFunction"
# HTTP functions that may run up to the duplicate's budget without a job
# (a bulk delete of a hundred images): their latency alarm is 25 s too.
LONG_FUNCTIONS = {"DeleteImagesFunction", "MoveImagesFunction"}
JOB_FUNCTIONS = {"DuplicateAlbumFunction", "UpdateAlbumFunction", "ScheduledDuplicateFunction", "DuplicationWorkerFunction"}
# The copying functions and the parameter of each one's reserved
# concurrency (decision 0017); every other function has none.
RESERVED = {
    "DuplicateAlbumFunction": "DuplicateReservedConcurrency",
    "UpdateAlbumFunction": "UpdateAlbumReservedConcurrency",
    "ScheduledDuplicateFunction": "ScheduledDuplicateReservedConcurrency",
    "DuplicationWorkerFunction": "DuplicationWorkerReservedConcurrency",
}
# Routes with throttles of their own, and their parameters' prefix (<prefix>Rate, <prefix>Burst).
ROUTE_THROTTLES = {
    "POST /api/v1/albums/{id}/duplicate": "CopyRouteThrottle",
    "PUT /api/v1/albums/{id}": "CopyRouteThrottle",
    "POST /api/v1/cloudinary": "WebhookThrottle",
}
# Lambda keeps this many of an account's concurrent executions unreserved.
UNRESERVED_MINIMUM = 100
# The webhook holds no key that signs user tokens (decision 0016).
NEEDS_JWT = set(HTTP_FUNCTIONS) - {"CloudinaryNotificationFunction"}
# The functions that render no image (so build no Cloudinary URL) and sign no upload form.
NEEDS_CLOUDINARY = set(HTTP_FUNCTIONS) - {"DeleteImageFunction", "CreateTagFunction", "ListTagsFunction", "DeleteTagImageFunction", "GetUsageFunction", "DeleteImagesFunction", "MoveImagesFunction", "GetImportFunction"}
# The functions that sign upload forms' notification tokens (album JSON) or verify them (the webhook).
NEEDS_NOTIFICATION = {
    "CreateAlbumFunction",
    "DuplicateAlbumFunction",
    "GetAlbumFunction",
    "GetDuplicationFunction",
    "UpdateAlbumFunction",
    "CloudinaryNotificationFunction",
    "CreateImportFunction",
}
# Function names are <stack>-<binary>; the template allows stacks of up to 40 characters.
LONGEST_STACK_NAME = 40
SEARCH_QUERY_MAX = 1024  # CloudWatch's limit on a SEARCH expression's query

DUMMY_CLOUDINARY_URL = "cloudinary://111111111111:rehearsal-only-not-a-secret@rehearsal"
# Stands for the ARN of a secret the operator created beforehand (the
# rehearsal creates it in moto first, then passes its ARN).
EXISTING = "<existing secret>"
EXISTING_VALUES = {"JwtSecretArn": "x" * 64, "CloudinaryUrlSecretArn": DUMMY_CLOUDINARY_URL}

# The two environments of samconfig.toml, created one after the other in
# the same account and region, as the deploy workflow does: each with its
# stack name and parameter overrides from samconfig.toml, plus what the
# operator gives its first deployment (the secrets; for staging also an
# alarm e-mail, a log retention, CORS origins and no reserved concurrency
# for the worker, so that those paths are rehearsed too).
ENVIRONMENTS = [
    (
        "staging",
        "stack-created secrets, alarm e-mail",
        {"CloudinaryUrl": DUMMY_CLOUDINARY_URL, "AlarmEmail": "ops@example.com", "LogRetentionDays": "14",
         "CorsAllowedOrigins": "https://app.example.com,https://crm.example.com",
         "DuplicationWorkerReservedConcurrency": "0"},
    ),
    (
        "prod",
        "existing secrets by ARN, no e-mail",
        {"JwtSecretArn": EXISTING, "CloudinaryUrlSecretArn": EXISTING},
    ),
]
# Names that AWS keeps one of per account and region (or per parent, for the
# deployment groups): each must be left to CloudFormation (which puts the
# stack's name in it) or built from ${AWS::StackName}, or the second
# environment's stack fails to create.
NAME_PROPERTIES = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::CodeDeploy::Application": "ApplicationName",
    "AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName",
}
# Physical ids that are only unique within their parent resource (the
# stage of an API), so equal in both stacks by design.
PER_PARENT_IDS = {"AWS::ApiGatewayV2::Stage"}


class Failures:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.checks = 0

    def check(self, ok: bool, what: str) -> bool:
        self.checks += 1
        if not ok:
            self.items.append(what)
            print(f"  FAIL: {what}")
        return ok


# --------------------------------------------------------------- translation
class OfflinePolicyLoader:
    """samtranslator's ManagedPolicyLoader without IAM: the AWS managed
    policies bundled with samtranslator (what it falls back to itself)."""

    def load(self) -> dict[str, str]:
        return dict(get_bundled_managed_policy_map("aws") or {})


def translate(template_path: Path | dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The SAM template (a file, or its parsed document) as CloudFormation's transform would translate it."""
    sam = copy.deepcopy(template_path) if isinstance(template_path, dict) else yaml_parse(template_path.read_text(encoding="utf-8"))
    for logical_id, res in (sam.get("Resources") or {}).items():
        if isinstance(res, dict) and res.get("Type") == "AWS::Serverless::Function":
            res.setdefault("Properties", {})["CodeUri"] = f"s3://{CODE_BUCKET}/{logical_id}.zip"
    # What CloudFormation hands the transform: every parameter's value,
    # defaults included, CommaDelimitedList ones as lists.
    values: dict[str, Any] = {}
    for name, spec in (sam.get("Parameters") or {}).items():
        value = parameters.get(name, spec.get("Default"))
        if value is None:
            continue
        values[name] = [v.strip() for v in str(value).split(",")] if spec.get("Type") == "CommaDelimitedList" else value
    values.update({"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"})
    return transform(sam, values, OfflinePolicyLoader())


def environment(name: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """samconfig.toml's environment `name`: its stack name, its parameter
    overrides (parsed by SAM CLI's own option type), its deploy parameters."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    section = config.get(name, {})
    deploy = dict(section.get("global", {}).get("parameters", {}))
    deploy.update(section.get("deploy", {}).get("parameters", {}))
    overrides = deploy.get("parameter_overrides", "")
    parsed = CfnParameterOverridesType().convert(overrides, None, None) if overrides else {}
    return deploy.get("stack_name", ""), {k: str(v) for k, v in parsed.items()}, deploy


def alias_name(source: dict[str, Any]) -> str:
    """The alias every function publishes (Globals AutoPublishAlias), or ""."""
    return str((source.get("Globals") or {}).get("Function", {}).get("AutoPublishAlias", ""))


def version_ids(translated: dict[str, Any]) -> dict[str, str]:
    """Each function's AWS::Lambda::Version logical id (SAM's hash)."""
    return {r["Properties"]["FunctionName"]["Ref"]: lid for lid, r in translated["Resources"].items()
            if r["Type"] == "AWS::Lambda::Version" and isinstance(r["Properties"].get("FunctionName"), dict)}


def check_versions_published(source: dict[str, Any], params: dict[str, str], f: Failures) -> None:
    """What publishes a new version (SAM names each version by a hash, and
    CloudFormation publishes one when that name changes): a change of a
    function's configuration in the template does, not only of its code;
    a parameter's value alone does not (docs/operations.md, Deploying
    gradually, says so and what to do)."""
    before = version_ids(translate(source, params))
    functions = FUNCTIONS + [ROTATION_FUNCTION]
    edited = copy.deepcopy(source)
    for lid in functions:
        props = edited["Resources"][lid]["Properties"]
        props["Timeout"] = int(props.get("Timeout", source["Globals"]["Function"].get("Timeout", 3))) - 1
    after = version_ids(translate(edited, params))
    same = sorted(lid for lid in functions if before.get(lid) == after.get(lid))
    f.check(len(before) == len(functions) and not same,
            f"a Timeout change in the template publishes a new version of every function (not of {same})")
    token = str(int(source["Parameters"]["TokenTtlSeconds"]["Default"]) + 60)
    moved = sorted(lid for lid, v in version_ids(translate(source, {**params, "TokenTtlSeconds": token})).items() if before.get(lid) != v)
    f.check(not moved, f"a parameter's value alone still publishes no version, as docs/operations.md says (it did for {moved}: update the docs)")
    print(f"  versions: a template change to a function publishes one ({len(functions) - len(same)} of {len(functions)}); "
          f"a parameter's value alone does not ({len(moved)} of {len(functions)})")


# ----------------------------------------------------------------- the Rules
def evaluate(node: Any, params: dict[str, Any]) -> Any:
    """A CloudFormation rule-function evaluator (the functions Rules may use)."""
    if isinstance(node, dict) and len(node) == 1:
        (fn, arg), = node.items()
        if fn == "Ref":
            return params[arg]
        if fn == "Fn::Equals":
            return evaluate(arg[0], params) == evaluate(arg[1], params)
        if fn == "Fn::Not":
            return not evaluate(arg[0], params)
        if fn == "Fn::And":
            return all(evaluate(a, params) for a in arg)
        if fn == "Fn::Or":
            return any(evaluate(a, params) for a in arg)
        if fn == "Fn::Contains":
            return evaluate(arg[1], params) in evaluate(arg[0], params)
        raise ValueError(f"rule function {fn} not handled by the rehearsal")
    return node


def parameter_values(template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    params = {name: spec.get("Default", "") for name, spec in (template.get("Parameters") or {}).items()}
    params.update(given)
    return params


def conditions(template: dict[str, Any], given: dict[str, str]) -> dict[str, bool]:
    params = parameter_values(template, given)
    raw = template.get("Conditions") or {}
    done: dict[str, bool] = {}

    def value(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1 and "Condition" in node:
            return condition(node["Condition"])
        if isinstance(node, dict) and len(node) == 1:
            (fn, arg), = node.items()
            if fn in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
                args = [value(a) for a in arg]
                return {"Fn::Equals": lambda: args[0] == args[1], "Fn::Not": lambda: not args[0],
                        "Fn::And": lambda: all(args), "Fn::Or": lambda: any(args)}[fn]()
        return evaluate(node, params)

    def condition(name: str) -> bool:
        if name not in done:
            done[name] = bool(value(raw[name]))
        return done[name]

    return {name: condition(name) for name in raw}


def dependency_cycle(template: dict[str, Any], given: dict[str, str]) -> list[str]:
    """A circular dependency between the resources CloudFormation would
    create with these parameters (Fn::If followed on its taken branch only,
    as CloudFormation does), or []."""
    resources = template["Resources"]
    cond = conditions(template, given)
    live = {k for k, r in resources.items() if "Condition" not in r or cond[r["Condition"]]}

    def refs(node: Any) -> set[str]:
        out: set[str] = set()
        if isinstance(node, dict):
            if "Ref" in node and len(node) == 1:
                out.add(node["Ref"])
            elif "Fn::GetAtt" in node:
                target = node["Fn::GetAtt"]
                out.add(target[0] if isinstance(target, list) else str(target).split(".")[0])
            elif "Fn::If" in node:
                name, yes, no = node["Fn::If"]
                out |= refs(yes if cond[name] else no)
            elif "Fn::Sub" in node:
                text, variables = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
                for var in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    if var not in variables:
                        out.add(var.split(".")[0])
                out |= refs(variables)
            else:
                for v in node.values():
                    out |= refs(v)
        elif isinstance(node, list):
            for v in node:
                out |= refs(v)
        return out

    graph: dict[str, set[str]] = {}
    for name in live:
        res = resources[name]
        deps = refs(res.get("Properties", {}))
        depends_on = res.get("DependsOn", [])
        deps |= {depends_on} if isinstance(depends_on, str) else set(depends_on)
        graph[name] = deps & live
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for name in sorted(graph):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []


def rules_refusals(template: dict[str, Any], given: dict[str, str]) -> list[str]:
    params = parameter_values(template, given)
    refused = []
    for name, rule in (template.get("Rules") or {}).items():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], params):
            continue
        for assertion in rule.get("Assertions", []):
            if not evaluate(assertion["Assert"], params):
                refused.append(f"{name}: {assertion.get('AssertDescription', '')}")
    return refused


# -------------------------------------------- bridges for types moto lacks
def coerce(shape: Any, value: Any) -> Any:
    """CloudFormation hands every parameter value over as a string; the
    service APIs want numbers and booleans. Converts along the botocore shape."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: coerce(shape.members[k], v) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [coerce(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: coerce(shape.value, v) for k, v in value.items()}
    if isinstance(value, str):
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("double", "float"):
            return float(value)
        if kind == "boolean":
            return value.lower() == "true"
    return value


_SERVICE_MODELS = botocore.session.get_session()


def camel(node: Any) -> Any:
    """CloudFormation's PascalCase property names as the camelCase of APIs
    such as CodeDeploy's (ApplicationName -> applicationName), at every level."""
    if isinstance(node, dict):
        return {k[:1].lower() + k[1:]: camel(v) for k, v in node.items()}
    if isinstance(node, list):
        return [camel(v) for v in node]
    return node


def api_params(service: str, operation: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The resource's properties as the API operation's parameters: same
    names, types coerced, unknown names dropped (reported)."""
    model = _SERVICE_MODELS.get_service_model(service).operation_model(operation).input_shape
    params = {k: v for k, v in props.items() if k in model.members}
    params.update(extra)
    return coerce(model, params)


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


class Bridge:
    """A resource moto's CloudFormation cannot create, created through
    moto's service API by `create(name, properties) -> (physical id, attributes)`.
    Mixed into a direct subclass of CloudFormationModel per type (moto
    finds its models with CloudFormationModel.__subclasses__())."""

    # moto files models by the second part of their module's name.
    __module__ = "rehearsal.bridges"
    registered: list[str] = []

    TYPE = ""
    NAME_PROPERTY = ""
    created: list[tuple[str, str]] = []
    # The properties each bridged resource was created with, by logical id,
    # as CloudFormation resolved them: what a service that moto does not
    # fully model (CodeDeploy's alarm configuration) was handed.
    resolved: dict[str, dict[str, Any]] = {}

    def __init__(self, physical_id: str, attributes: dict[str, Any]) -> None:
        self._physical_id = physical_id
        self._attributes = attributes

    @classmethod
    def create(cls, name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        props = cloudformation_json.get("Properties") or {}
        physical_id, attributes = cls.create(resource_name, props)
        Bridge.created.append((cls.TYPE, kwargs.get("LogicalId", resource_name)))
        Bridge.resolved[kwargs.get("LogicalId", resource_name)] = copy.deepcopy(props)
        return cls(physical_id, attributes)

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self._attributes[attribute_name]


def bridge(cfn_type: str, name_property: str = ""):
    def register(fn):
        cls = type(
            fn.__name__,
            (Bridge, CloudFormationModel),
            {
                "__module__": Bridge.__module__,
                "TYPE": cfn_type,
                "create": classmethod(lambda c, name, props: fn(name, props)),
                "cloudformation_type": staticmethod(lambda: cfn_type),
                "cloudformation_name_type": staticmethod(lambda: name_property),
            },
        )
        Bridge.registered.append(cfn_type)
        return cls

    return register


@bridge("AWS::CloudWatch::Alarm", "AlarmName")
def Alarm(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    alarm_name = props.get("AlarmName", name)
    client("cloudwatch").put_metric_alarm(**api_params("cloudwatch", "PutMetricAlarm", props, AlarmName=alarm_name))
    arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm_name}"
    return alarm_name, {"Arn": arn}


@bridge("AWS::SecretsManager::Secret", "Name")
def Secret(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    sm = client("secretsmanager")
    props = dict(props)
    generate = props.pop("GenerateSecretString", None)
    if generate is not None:
        if "SecretStringTemplate" in generate or "GenerateStringKey" in generate:
            raise ValueError("GenerateSecretString with a template is not rehearsed")
        gen = api_params("secretsmanager", "GetRandomPassword", {"PasswordLength": 32, **generate})
        props["SecretString"] = sm.get_random_password(**gen)["RandomPassword"]
    out = sm.create_secret(**api_params("secretsmanager", "CreateSecret", props, Name=props.get("Name", name)))
    return out["ARN"], {"Id": out["ARN"]}


@bridge("AWS::SNS::Subscription")
def Subscription(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    out = client("sns").subscribe(**api_params("sns", "Subscribe", props, ReturnSubscriptionArn=True))
    return out["SubscriptionArn"], {}


@bridge("AWS::ApiGatewayV2::Api", "Name")
def HttpApi(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    gw = client("apigatewayv2")
    body = props.get("Body")
    title = (body or {}).get("info", {}).get("title") if isinstance(body, dict) else None
    api = gw.create_api(**api_params("apigatewayv2", "CreateApi", props, Name=props.get("Name", title or name), ProtocolType="HTTP"))
    if body is not None:  # moto has ReimportApi, not ImportApi
        api = gw.reimport_api(ApiId=api["ApiId"], Body=json.dumps(body), FailOnWarnings=bool(props.get("FailOnWarnings", False)))
    return api["ApiId"], {"ApiEndpoint": api.get("ApiEndpoint", ""), "ApiId": api["ApiId"]}


@bridge("AWS::ApiGatewayV2::Stage", "StageName")
def HttpApiStage(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    stage = client("apigatewayv2").create_stage(**api_params("apigatewayv2", "CreateStage", props))
    return stage["StageName"], {}


@bridge("AWS::Lambda::Alias", "Name")
def Alias(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    alias = client("lambda").create_alias(**api_params("lambda", "CreateAlias", props))
    return alias["AliasArn"], {"AliasArn": alias["AliasArn"]}


@bridge("AWS::CodeDeploy::Application", "ApplicationName")
def CodeDeployApplication(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    app_name = props.get("ApplicationName", name)
    client("codedeploy").create_application(
        **api_params("codedeploy", "CreateApplication", camel(props), applicationName=app_name))
    return app_name, {}


@bridge("AWS::CodeDeploy::DeploymentGroup", "DeploymentGroupName")
def DeploymentGroup(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    group_name = props.get("DeploymentGroupName", name)
    client("codedeploy").create_deployment_group(
        **api_params("codedeploy", "CreateDeploymentGroup", camel(props), deploymentGroupName=group_name))
    return group_name, {}


@bridge("AWS::Scheduler::Schedule", "Name")
def Schedule(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # CloudFormation's generated names fit the API's 64 characters.
    schedule_name = props.get("Name") or (name if len(name) <= 64 else name[:51] + name[-13:])
    out = client("scheduler").create_schedule(**api_params("scheduler", "CreateSchedule", props, Name=schedule_name))
    return schedule_name, {"Arn": out["ScheduleArn"]}


@bridge("AWS::Scheduler::ScheduleGroup", "Name")
def ScheduleGroup(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # CloudFormation's generated names fit the API's 64 characters.
    group_name = props.get("Name") or (name if len(name) <= 64 else name[:51] + name[-13:])
    out = client("scheduler").create_schedule_group(**api_params("scheduler", "CreateScheduleGroup", props, Name=group_name))
    return group_name, {"Arn": out["ScheduleGroupArn"]}


# Properties moto's CloudFormation ignores on a type it does create, applied
# the way CloudFormation does, through the service's API.
from moto.dynamodb.models.table import Table as _MotoTable  # noqa: E402

_moto_table_from_cfn = _MotoTable.create_from_cloudformation_json.__func__
APPLIED_PROPERTIES = ["AWS::DynamoDB::Table.TimeToLiveSpecification (UpdateTimeToLive)"]


def _table_from_cfn(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
    table = _moto_table_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    ttl = (cloudformation_json.get("Properties") or {}).get("TimeToLiveSpecification")
    if ttl is not None:
        client("dynamodb").update_time_to_live(
            **api_params("dynamodb", "UpdateTimeToLive", {"TimeToLiveSpecification": ttl}, TableName=table.name))
    return table


_MotoTable.create_from_cloudformation_json = classmethod(_table_from_cfn)

# moto's AWS::Lambda::Version publishes the version but answers neither its
# Ref (the version's ARN) nor Fn::GetAtt Version (its number), which the
# aliases SAM generates name. Both as CloudFormation gives them.
from moto.awslambda.models import LambdaVersion as _MotoVersion  # noqa: E402

_moto_version_from_cfn = _MotoVersion.create_from_cloudformation_json.__func__
APPLIED_PROPERTIES.append("AWS::Lambda::Version Ref and Fn::GetAtt Version")


def _version_from_cfn(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
    version = _moto_version_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    function = client("lambda").get_function(FunctionName=cloudformation_json["Properties"]["FunctionName"])
    version.arn = f"{function['Configuration']['FunctionArn']}:{version.version}"
    return version


_MotoVersion.create_from_cloudformation_json = classmethod(_version_from_cfn)
_MotoVersion.physical_resource_id = property(lambda self: self.arn)
_MotoVersion.has_cfn_attr = classmethod(lambda cls, attr: attr == "Version")
_MotoVersion.get_cfn_attribute = lambda self, attr: str(self.version)

# moto keeps one resource policy per function, whatever the qualifier, and
# files a mapping under the function: the properties CloudFormation resolved
# for these (their FunctionName: the alias's ARN) are kept, as the bridges'.
from moto.awslambda.models import EventSourceMapping as _MotoMapping, Permission as _MotoPermission  # noqa: E402


def _recording(model: Any) -> None:
    original = model.create_from_cloudformation_json.__func__

    def create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
        Bridge.resolved[kwargs.get("LogicalId", resource_name)] = copy.deepcopy(cloudformation_json.get("Properties") or {})
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    model.create_from_cloudformation_json = classmethod(create)


for _model in (_MotoPermission, _MotoMapping):
    _recording(_model)

# CloudFormation hands a Number parameter to intrinsic functions as a
# string ("0"), where moto gives it as a number (0), so that moto's
# Fn::Equals [!Ref <Number>, "0"] would be false where CloudFormation's is
# true. Numbers compared as CloudFormation compares them.
_moto_parse_condition = cfn_parsing.parse_condition
APPLIED_PROPERTIES.append("Fn::Equals on a Number parameter (compared as a string)")


def _parse_condition(condition: Any, resources_map: Any, condition_map: dict[str, Any]) -> bool:
    if isinstance(condition, dict) and list(condition) == ["Fn::Equals"]:
        values = [condition_map[v["Condition"]] if isinstance(v, dict) and "Condition" in v
                  else cfn_parsing.clean_json(v, resources_map) for v in condition["Fn::Equals"]]
        if not any(isinstance(v, bool) for v in values):
            a, b = (str(v) if isinstance(v, (int, float)) else v for v in values)
            return a == b
    return _moto_parse_condition(condition, resources_map, condition_map)


cfn_parsing.parse_condition = _parse_condition

for cached in (cfn_parsing.get_model_list, cfn_parsing.get_model_map, cfn_parsing.get_name_type_map):
    cached.cache_clear()
BRIDGED_TYPES = frozenset(Bridge.registered)


# ------------------------------------------------------------------ the run
class SkippedTypes(logging.Handler):
    PREFIX = "No Moto CloudFormation support for "

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.types: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(self.PREFIX):
            self.types.add(message[len(self.PREFIX):].strip())


def placeholder_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        zf.writestr(info, "#!/bin/sh\necho 'rehearsal placeholder, not the function' >&2\nexit 1\n")
    return buf.getvalue()


def create_stack(stack: str, template: dict[str, Any], params: dict[str, str]) -> dict:
    s3 = client("s3")
    if CODE_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=CODE_BUCKET)
    code = placeholder_zip()
    for logical_id, res in template["Resources"].items():
        if res["Type"] == "AWS::Lambda::Function":
            key = res["Properties"]["Code"]["S3Key"]
            s3.put_object(Bucket=res["Properties"]["Code"]["S3Bucket"], Key=key, Body=code)
    cfn = client("cloudformation")
    parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()]
    cfn.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(template),
        Parameters=parameters,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    return cfn.describe_stacks(StackName=stack)["Stacks"][0]


def physical_ids(stack: str, cfn_type: str | None = None) -> dict[str, str]:
    resources = client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    resources = [r for r in resources if "LogicalResourceId" in r]
    return {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in resources
        if cfn_type is None or r["ResourceType"] == cfn_type
    }


def role_policy_statements(iam: Any, role_name: str) -> list[dict[str, Any]]:
    """Every statement of the role's inline policies."""
    out = []
    for policy_name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except ValueError:  # moto keeps a policy from CloudFormation as Python's repr
                doc = ast.literal_eval(doc)
        statements = doc.get("Statement", [])
        out.extend([statements] if isinstance(statements, dict) else statements)
    return out


def secret_arns_of_role(iam: Any, role_name: str) -> set[str]:
    arns: set[str] = set()
    for st in role_policy_statements(iam, role_name):
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if any(a.startswith("secretsmanager:") for a in actions):
            resources = st.get("Resource", [])
            arns.update([resources] if isinstance(resources, str) else resources)
            if set(actions) != {"secretsmanager:GetSecretValue"}:
                arns.add(f"<actions {sorted(actions)}>")
    return arns


def stack_alarms(stack: str) -> list[dict[str, Any]]:
    """The metric alarms whose names start with the stack's (every alarm of the template's)."""
    pages = client("cloudwatch").get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{stack}-")
    return [a for page in pages for a in page["MetricAlarms"]]


def assert_gradual(stack: str, source: dict[str, Any], template: dict[str, Any], params: dict[str, str], f: Failures) -> None:
    """Gradual deploys: every function publishes a version and the alias;
    CodeDeploy moves the alias (one deployment group per function, with its
    type and its rollback alarms); every trigger invokes the alias."""
    alias = alias_name(source)
    if not f.check(bool(alias), "Globals.Function.AutoPublishAlias names the alias every function publishes"):
        return
    res = template["Resources"]
    ids = physical_ids(stack)
    lam, cd, iam = client("lambda"), client("codedeploy"), client("iam")
    defaults = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    deploy_type = params.get("DeploymentPreferenceType", defaults["DeploymentPreferenceType"])
    latency_ms = float(params.get("RollbackLatencyP99Ms", defaults["RollbackLatencyP99Ms"]))

    # The CodeDeploy application and the service role SAM creates for it:
    # CodeDeploy may assume it, with AWS's managed policy for Lambda
    # deployments and nothing else.
    apps = [lid for lid, r in res.items() if r["Type"] == "AWS::CodeDeploy::Application"]
    app_lid = apps[0] if len(apps) == 1 else ""
    app_name = ids.get(app_lid)
    if f.check(bool(app_name), f"one CodeDeploy application, created (got {apps})"):
        app = cd.get_application(applicationName=app_name)["application"]
        f.check(app.get("computePlatform") == "Lambda", f"the CodeDeploy application deploys Lambda (got {app.get('computePlatform')})")
    role_name = ids.get("CodeDeployServiceRole")
    role_arn = ""
    if f.check(bool(role_name), "CodeDeploy's service role is created"):
        role = iam.get_role(RoleName=role_name)["Role"]
        role_arn = role["Arn"]
        trust = role["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        principals = [st.get("Principal", {}).get("Service") for st in trust.get("Statement", [])]
        f.check(principals in ([["codedeploy.amazonaws.com"]], ["codedeploy.amazonaws.com"]),
                f"only CodeDeploy may assume its service role (got {principals})")
        # moto's CloudFormation attaches no managed policy: the template's.
        attached = res["CodeDeployServiceRole"]["Properties"].get("ManagedPolicyArns")
        f.check(attached == ["arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda"] and not role_policy_statements(iam, role_name),
                f"CodeDeploy's service role has AWSCodeDeployRoleForLambda alone (got {attached})")

    alarms = {a["AlarmName"]: a for a in stack_alarms(stack)}
    api_5xx = ids.get("Api5xxAlarm")
    for lid in FUNCTIONS:
        name = ids.get(lid) or ""
        versions = [v for v, r in res.items()
                    if r["Type"] == "AWS::Lambda::Version" and r["Properties"].get("FunctionName") == {"Ref": lid}]
        aliases = [a for a, r in res.items()
                   if r["Type"] == "AWS::Lambda::Alias" and r["Properties"].get("FunctionName") == {"Ref": lid}]
        if not (f.check(len(versions) == 1, f"{lid}: one version in the translation (got {versions})")
                and f.check(len(aliases) == 1, f"{lid}: one alias in the translation (got {aliases})")):
            continue
        spec = res[aliases[0]]
        group_lid = f"{lid}DeploymentGroup"
        f.check(res[versions[0]].get("DeletionPolicy") == "Delete",
                f"{lid}: a replaced version is deleted, not kept forever (DeletionPolicy {res[versions[0]].get('DeletionPolicy')})")
        f.check(spec["Properties"].get("Name") == alias
                and spec["Properties"].get("FunctionVersion") == {"Fn::GetAtt": [versions[0], "Version"]},
                f"{lid}: alias {alias} on its published version (got {spec['Properties']})")
        f.check(spec.get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate")
                == {"ApplicationName": {"Ref": app_lid}, "DeploymentGroupName": {"Ref": group_lid}},
                f"{lid}: CodeDeploy moves its alias, through {group_lid} (UpdatePolicy {spec.get('UpdatePolicy')})")
        if name:  # in moto: the alias exists and names a published version, not $LATEST
            got = lam.get_alias(FunctionName=name, Name=alias)["FunctionVersion"]
            published = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"] if v["Version"] != "$LATEST"]
            f.check(got in published, f"{lid}: alias {alias} points at a published version (got {got}, published {published})")

        group_name = ids.get(group_lid)
        if not f.check(bool(group_name and app_name), f"{lid}: its deployment group {group_lid} is created"):
            continue
        info = cd.get_deployment_group(applicationName=app_name, deploymentGroupName=group_name)["deploymentGroupInfo"]
        want_type = deploy_type if lid in HTTP_FUNCTIONS else "AllAtOnce"
        f.check(info.get("deploymentConfigName") == f"CodeDeployDefault.Lambda{want_type}",
                f"{lid}: deployment config CodeDeployDefault.Lambda{want_type} (got {info.get('deploymentConfigName')})")
        f.check(info.get("serviceRoleArn") == role_arn, f"{lid}: its deployment group uses CodeDeploy's service role")
        f.check(info.get("deploymentStyle") == {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
                f"{lid}: traffic shifting deployment (got {info.get('deploymentStyle')})")
        rollback = info.get("autoRollbackConfiguration") or {}
        f.check(rollback.get("enabled") is True and {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(rollback.get("events", [])),
                f"{lid}: rolled back on failure and on alarm (got {rollback})")
        # moto's CodeDeploy keeps no alarm configuration: the names
        # CloudFormation handed it, each looked up in CloudWatch.
        handed = Bridge.resolved.get(group_lid, {}).get("AlarmConfiguration") or {}
        names = [a.get("Name") for a in handed.get("Alarms", [])]
        if lid not in HTTP_FUNCTIONS:
            f.check(not names, f"{lid}: no rollback alarm (all at once; got {names})")
            continue
        f.check(str(handed.get("Enabled")).lower() == "true", f"{lid}: its rollback alarms are enabled")
        f.check(all(n in alarms for n in names), f"{lid}: every rollback alarm exists ({[n for n in names if n not in alarms]} do not)")
        live_dims = {"FunctionName": name, "Resource": f"{name}:{alias}"}

        def handed_alarm(metric: str, dims: dict[str, str]) -> dict[str, Any] | None:
            found = [alarms[n] for n in names if n in alarms and alarms[n].get("MetricName") == metric
                     and {d["Name"]: d["Value"] for d in alarms[n].get("Dimensions", [])} == dims]
            return found[0] if len(found) == 1 else None

        errors = handed_alarm("Errors", live_dims)
        if f.check(errors is not None, f"{lid}: rolled back by the Errors of its alias {alias} ({live_dims})"):
            f.check((errors.get("Namespace"), errors.get("Statistic"), errors.get("Threshold"), errors.get("Period"),
                     errors.get("ComparisonOperator"), errors.get("TreatMissingData"))
                    == ("AWS/Lambda", "Sum", 0.0, 60, "GreaterThanThreshold", "notBreaching"),
                    f"{lid}: its alias's Errors alarm fires on any error in a minute (got {errors})")
            f.check(not errors.get("AlarmActions"), f"{lid}: the alias's Errors alarm notifies nobody (its Errors alarm does)")
        latency = handed_alarm("Duration", live_dims)
        want_ms = 25000.0 if lid in JOB_FUNCTIONS | LONG_FUNCTIONS else latency_ms
        if f.check(latency is not None, f"{lid}: rolled back by the p99 Duration of its alias {alias}"):
            f.check((latency.get("Namespace"), latency.get("ExtendedStatistic"), latency.get("Threshold"), latency.get("Period"))
                    == ("AWS/Lambda", "p99", want_ms, 60),
                    f"{lid}: its alias's latency alarm is p99 over {want_ms} ms by the minute (got {latency})")
        f.check(api_5xx in names, f"{lid}: rolled back by the API's 5xx alarm")
        f.check(len(names) == 3, f"{lid}: three rollback alarms (got {names})")

    # The triggers invoke the alias: the API's permissions (its integrations
    # are checked with the routes), the stream mapping, the schedule, the
    # asynchronous invocations' retries, the scheduled function's output.
    alias_ids = {lid: ids.get(f"{lid}Alias{alias}") for lid in FUNCTIONS}
    for lid, r in res.items():
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"].get("Principal") != "secretsmanager.amazonaws.com":
            target = r["Properties"].get("FunctionName")
            fn = next((fn for fn in HTTP_FUNCTIONS if target == {"Ref": f"{fn}Alias{alias}"}), None)
            f.check(fn is not None, f"{lid}: the API may invoke an HTTP function's alias, not the function (got {target})")
            resolved = Bridge.resolved.get(lid, {}).get("FunctionName")
            f.check(fn is None or resolved == alias_ids[fn], f"{lid}: resolved to the alias's ARN {alias_ids.get(fn or '')} (got {resolved})")
    permissions = sum(1 for r in res.values() if r["Type"] == "AWS::Lambda::Permission"
                      and r["Properties"].get("Principal") != "secretsmanager.amazonaws.com")
    routes = sum(1 for r in source["Resources"].values() if r.get("Type") == "AWS::Serverless::Function"
                 for e in (r.get("Properties", {}).get("Events") or {}).values() if e.get("Type") == "HttpApi")
    f.check(permissions == routes, f"one invoke permission per route ({permissions} for {routes})")

    mappings = {lid: r["Properties"].get("FunctionName") for lid, r in res.items() if r["Type"] == "AWS::Lambda::EventSourceMapping"}
    f.check(list(mappings.values()) == [{"Ref": f"DuplicationWorkerFunctionAlias{alias}"}],
            f"the stream mapping names the worker's alias (got {list(mappings.values())})")
    for lid in mappings:
        resolved = Bridge.resolved.get(lid, {}).get("FunctionName")
        f.check(resolved == alias_ids["DuplicationWorkerFunction"],
                f"{lid}: resolved to the worker's alias {alias_ids['DuplicationWorkerFunction']} (got {resolved})")

    sched = client("scheduler")
    for lid, r in res.items():
        if r["Type"] != "AWS::Scheduler::Schedule":
            continue
        f.check(r["Properties"]["Target"].get("Arn") == {"Ref": f"ScheduledDuplicateFunctionAlias{alias}"},
                f"{lid}: the schedule's target is the scheduled function's alias (got {r['Properties']['Target'].get('Arn')})")
        group = ids.get("DuplicationScheduleGroup")
        f.check(bool(group) and Bridge.resolved.get(lid, {}).get("GroupName") == group,
                f"{lid}: the schedule is in the stack's group {group}, which its alarms watch (got {Bridge.resolved.get(lid, {}).get('GroupName')})")
        if ids.get(lid) and group:
            target = sched.get_schedule(Name=ids[lid], GroupName=group)["Target"]
            f.check(target.get("Arn") == alias_ids["ScheduledDuplicateFunction"],
                    f"{lid}: the created schedule invokes {alias_ids['ScheduledDuplicateFunction']} (got {target.get('Arn')})")
            role = target.get("RoleArn", "").rsplit("/", 1)[-1]
            invoked = {json.dumps(st.get("Resource")) for st in role_policy_statements(iam, role)
                       if "lambda:InvokeFunction" in json.dumps(st.get("Action"))}
            f.check(invoked == {json.dumps(alias_ids["ScheduledDuplicateFunction"])},
                    f"{lid}: the schedule's role may invoke the alias alone (got {invoked})")
    for lid, r in res.items():
        if r["Type"] == "AWS::Lambda::EventInvokeConfig":
            f.check(r["Properties"].get("Qualifier") == alias,
                    f"{lid}: the asynchronous retries are those of the alias (Qualifier {r['Properties'].get('Qualifier')!r})")
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}
    f.check(outputs.get("ScheduledDuplicateFunctionArn") == alias_ids["ScheduledDuplicateFunction"],
            f"the output ScheduledDuplicateFunctionArn is the alias, what schedules should target (got {outputs.get('ScheduledDuplicateFunctionArn')})")


def assert_rotation(stack: str, template: dict[str, Any], params: dict[str, str], f: Failures) -> None:
    """The JWT key's rotation (decision 0018): present exactly when the
    stack creates the key and JwtRotationDays is not 0; Secrets Manager may
    invoke the rotation function's alias, from this account only; the
    function may rotate that secret and nothing else; the schedule (which
    moto's CloudFormation skips, so checked as CloudFormation resolves it)
    names the alias and the secret, and does not rotate at creation."""
    res, ids, alias = template["Resources"], physical_ids(stack), alias_name(template) or "live"
    days = str(params.get("JwtRotationDays", template["Parameters"]["JwtRotationDays"]["Default"]))
    rotating = bool(ids.get(ROTATION_FUNCTION))
    f.check(rotating == (not params.get("JwtSecretArn") and days != "0"),
            f"the stack rotates the JWT key exactly when it creates it (rotation function created: {rotating})")
    if not rotating:
        print("  rotation: none (the JWT secret is the operator's, or JwtRotationDays is 0)")
        return
    alias_ref = {"Ref": f"{ROTATION_FUNCTION}Alias{alias}"}
    perm = res["JwtSecretRotationPermission"]["Properties"]
    f.check((perm.get("Principal"), perm.get("FunctionName"), perm.get("Action")) == ("secretsmanager.amazonaws.com", alias_ref, "lambda:InvokeFunction")
            and perm.get("SourceAccount") == {"Ref": "AWS::AccountId"},
            f"Secrets Manager may invoke the rotation function's alias, from this account (got {perm})")
    sched = res["JwtSecretRotationSchedule"]
    props = sched["Properties"]
    f.check(props.get("RotationLambdaARN") == alias_ref and props.get("SecretId") == {"Ref": "JwtSigningSecret"}
            and props.get("RotateImmediatelyOnUpdate") is False
            and (props.get("RotationRules") or {}).get("AutomaticallyAfterDays") == {"Ref": "JwtRotationDays"}
            and "JwtSecretRotationPermission" in ([sched.get("DependsOn")] if isinstance(sched.get("DependsOn"), str) else sched.get("DependsOn") or []),
            f"the rotation schedule invokes the alias for the JWT secret every JwtRotationDays, after the permission exists (got {sched})")
    role_lid = res[ROTATION_FUNCTION]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = role_policy_statements(client("iam"), ids.get(role_lid, ""))
    granted = {(a, json.dumps(st.get("Resource"))) for st in statements
               for a in ([st["Action"]] if isinstance(st.get("Action"), str) else st.get("Action", []))
               if not a.startswith(("logs:", "xray:"))}
    want = {(a, json.dumps(ids.get("JwtSigningSecret"))) for a in
            ("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage")}
    f.check(granted == want, f"the rotation function may rotate the JWT secret and do nothing else (got {sorted(granted)})")
    print(f"  rotation: every {days} days by {ids.get(ROTATION_FUNCTION)}:{alias} (the schedule itself is skipped by moto)")


def assert_capacity(stack: str, template: dict[str, Any], params: dict[str, str], ids: dict[str, str],
                    fn_names: dict[str, str | None], api_id: str, queue_name: str, alarms: list[dict[str, Any]],
                    expect: Any, f: Failures) -> int:
    """Concurrency, throttles and the capacity and dependency alarms
    (decision 0017): each copying function's reserved concurrency, as Lambda
    holds it; each alarm, as CloudWatch holds it, with the metrics (and
    dimensions) of this stack's resources; their dashboard widgets. Returns
    how many alarms it checked."""

    def value(name: str) -> str:
        return str(params.get(name, template["Parameters"][name].get("Default", "")))

    # Reserved concurrency: the copying functions' parameter (0: none), no other function's.
    lam = client("lambda")
    for lid, name in fn_names.items():
        if not name:
            continue
        got = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
        want = int(value(RESERVED[lid])) if lid in RESERVED and value(RESERVED[lid]) != "0" else None
        f.check(got == want, f"{lid}: reserved concurrency {got} != {want}")
    # A copying route's throttle fills at most rate x 25 s (a copy's
    # longest hold) + burst executions: within its function's reservation.
    hold = float(value("CopyRouteThrottleRate")) * 25 + float(value("CopyRouteThrottleBurst"))
    for lid in ("DuplicateAlbumFunction", "UpdateAlbumFunction"):
        reserved = int(value(RESERVED[lid]))
        f.check(reserved == 0 or reserved >= hold,
                f"{lid}: its route's throttle ({hold:.0f} executions at ~25 s a copy) fits its reservation ({reserved})")

    by_name = {a["AlarmName"]: a for a in alarms}
    topic = ids.get("AlarmTopic")

    def stats(alarm: dict[str, Any]) -> set[tuple[str, str, frozenset, str]]:
        return {(m["MetricStat"]["Metric"].get("Namespace", ""), m["MetricStat"]["Metric"].get("MetricName", ""),
                 frozenset((d["Name"], d["Value"]) for d in m["MetricStat"]["Metric"].get("Dimensions", [])),
                 m["MetricStat"].get("Stat", ""))
                for m in alarm.get("Metrics", []) if "MetricStat" in m}

    def math(suffix: str, want: set[tuple[str, str, frozenset, str]], threshold: float, expression_has: str = "") -> None:
        label = f"{stack}-{suffix}"
        alarm = by_name.get(label)
        if not f.check(alarm is not None, f"alarm {label} exists"):
            return
        got = stats(alarm)
        f.check(got == want, f"alarm {label}: its metrics {sorted(map(str, got - want))} extra, {sorted(map(str, want - got))} missing")
        returned = [m for m in alarm.get("Metrics", []) if m.get("ReturnData")]
        f.check(len(returned) == 1 and "Expression" in returned[0], f"alarm {label}: one expression is its value (got {returned})")
        if returned and expression_has:
            f.check(expression_has in returned[0].get("Expression", ""), f"alarm {label}: its expression uses {expression_has}")
        f.check(alarm.get("Threshold") == threshold and alarm.get("ComparisonOperator") == "GreaterThanThreshold"
                and alarm.get("TreatMissingData") == "notBreaching",
                f"alarm {label}: fires above {threshold}, missing data not breaching (got {alarm.get('Threshold')}, {alarm.get('TreatMissingData')})")
        f.check(alarm.get("AlarmActions") == [topic] and alarm.get("OKActions") == [topic], f"alarm {label} notifies the topic")

    api = frozenset({("ApiId", api_id), ("Stage", "$default")})
    fn = {lid: frozenset({("FunctionName", name or "")}) for lid, name in fn_names.items()}
    table = ids.get("AlbumsTable", "")
    group = frozenset({("ScheduleGroup", ids.get("DuplicationScheduleGroup", ""))})
    math("Account-ClaimedConcurrency", {("AWS/Lambda", "ClaimedAccountConcurrency", frozenset(), "Maximum")}, 80.0,
         f"/ {value('AccountConcurrencyLimit')}")
    math("AlbumHttpApi-LatencyP99", {
        ("AWS/ApiGateway", "Count", api, "Sum"),
        ("AWS/ApiGateway", "Latency", api, f"PR(:{value('ApiLatencyP99AlarmMs')})"),
        ("AWS/Lambda", "Invocations", fn["DuplicateAlbumFunction"], "Sum"),
        ("AWS/Lambda", "Invocations", fn["UpdateAlbumFunction"], "Sum"),
    }, 1.0)
    math("AlbumHttpApi-5xxRatio", {("AWS/ApiGateway", "Count", api, "Sum"), ("AWS/ApiGateway", "5xx", api, "Sum")}, 1.0)
    # Throttles: the table's and each index's, as DynamoDB holds the table.
    indexes = [i["IndexName"] for i in client("dynamodb").describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])] if table else []
    throttles = {("AWS/DynamoDB", metric, frozenset({("TableName", table), *extra}), "Sum")
                 for metric in ("ReadThrottleEvents", "WriteThrottleEvents")
                 for extra in [()] + [(("GlobalSecondaryIndexName", i),) for i in indexes]}
    math("AlbumsTable-Throttles", throttles, 300.0)
    # System errors: every DynamoDB operation a function's policy allows.
    allowed = {a.split(":", 1)[1] for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"
               for p in (r["Properties"].get("Policies") or [])
               for st in (p.get("PolicyDocument", {}).get("Statement") or [])
               for a in ([st.get("Action")] if isinstance(st.get("Action"), str) else st.get("Action") or [])
               if isinstance(a, str) and a.startswith("dynamodb:") and not a.startswith("dynamodb:DescribeStream")
               and a not in ("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams")}
    math("AlbumsTable-SystemErrors", {("AWS/DynamoDB", "SystemErrors", frozenset({("TableName", table), ("Operation", op)}), "Sum")
                                      for op in allowed}, 0.0)
    math("DuplicationDeadLetterQueue-DeliveryFailures", {
        ("AWS/Lambda", "DeadLetterErrors", fn["ScheduledDuplicateFunction"], "Sum"),
        ("AWS/Lambda", "DestinationDeliveryFailures", fn["DuplicationWorkerFunction"], "Sum"),
        ("AWS/Scheduler", "InvocationsFailedToBeSentToDeadLetterCount", group, "Sum"),
    }, 0.0)
    math("Schedules-TargetErrors", {("AWS/Scheduler", "TargetErrorCount", group, "Sum"),
                                    ("AWS/Scheduler", "InvocationDroppedCount", group, "Sum")}, 0.0)
    age = next((a for a in alarms if a.get("MetricName") == "ApproximateAgeOfOldestMessage"
                and a.get("Dimensions") == [{"Name": "QueueName", "Value": queue_name}]), None)
    expect("oldest dead letter", age, Namespace="AWS/SQS", Statistic="Maximum", Threshold=259200.0,
           ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")

    # Their widgets: each names the same metrics of this stack's resources.
    cw = client("cloudwatch")
    names = [d["DashboardName"] for d in cw.list_dashboards(DashboardNamePrefix=stack)["DashboardEntries"]]
    try:
        widgets = {w["properties"]["title"]: json.dumps(w["properties"]["metrics"])
                   for w in json.loads(cw.get_dashboard(DashboardName=names[0])["DashboardBody"])["widgets"]}
    except (IndexError, KeyError, ValueError):
        widgets = {}

    def widget(title_start: str, *needles: str) -> None:
        text = next((m for t, m in widgets.items() if t.startswith(title_start)), None)
        if f.check(text is not None, f"the dashboard has a widget '{title_start}...'"):
            missing = [n for n in needles if n not in (text or "")]
            f.check(not missing, f"the widget '{title_start}...' shows {missing}")

    widget("Account concurrency", '"ClaimedAccountConcurrency"', f"/ {value('AccountConcurrencyLimit')}",
           *(f'"{fn_names[lid]}"' for lid in RESERVED))
    widget("API: requests other than copies", '"Count"', f"PR(:{value('ApiLatencyP99AlarmMs')})", '"5xx"', f'"{api_id}"',
           f'"{fn_names["DuplicateAlbumFunction"]}"', f'"{fn_names["UpdateAlbumFunction"]}"')
    widget("DynamoDB", f'"{table}"', '"SystemErrors"', *(f'"{i}"' for i in indexes), *(f'"{op}"' for op in sorted(allowed)))
    widget("Dead letters", f'"{queue_name}"', '"ApproximateAgeOfOldestMessage"', '"DeadLetterErrors"', '"DestinationDeliveryFailures"',
           '"InvocationsFailedToBeSentToDeadLetterCount"', f'"{ids.get("DuplicationScheduleGroup")}"')
    widget("Schedules", '"TargetErrorCount"', '"InvocationDroppedCount"', f'"{ids.get("DuplicationScheduleGroup")}"')
    return 8


def assert_stack(stack: str, source: dict[str, Any], template: dict[str, Any], params: dict[str, str], f: Failures) -> None:
    """`source` is the SAM template, `template` its translation."""
    ids = physical_ids(stack)

    def value(name: str) -> str:
        """A parameter's value in this deployment: given, or its default."""
        return str(params.get(name, template["Parameters"][name].get("Default", "")))
    fn_names = {lid: ids.get(lid) for lid in FUNCTIONS}
    f.check(all(fn_names.values()), f"every function created: missing {[k for k, v in fn_names.items() if not v]}")

    # Log groups: one per function with the retention, the API's access logs.
    retention = int(params.get("LogRetentionDays", template["Parameters"]["LogRetentionDays"]["Default"]))
    logs = client("logs")
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
    tpl_resources = template["Resources"]
    for lid in FUNCTIONS:
        props = tpl_resources[lid]["Properties"]
        ref = (props.get("LoggingConfig") or {}).get("LogGroup")
        group_lid = ref.get("Ref") if isinstance(ref, dict) else None
        if not f.check(
            group_lid in tpl_resources and tpl_resources[group_lid]["Type"] == "AWS::Logs::LogGroup",
            f"{lid}: LoggingConfig.LogGroup is a Ref to a log group of the stack (got {ref!r})",
        ):
            continue
        group = groups.get(ids.get(group_lid, ""))
        f.check(group is not None, f"{lid}: its log group {group_lid} exists in CloudWatch Logs")
        if group:
            f.check(group.get("retentionInDays") == retention, f"{lid}: log retention {group.get('retentionInDays')} != {retention}")
        f.check(props.get("TracingConfig") == {"Mode": "Active"}, f"{lid}: X-Ray tracing Active")
        f.check(props.get("LoggingConfig", {}).get("LogFormat") == "JSON", f"{lid}: JSON logs")

    # The worker's stream mapping: partial batch failures, parallel
    # batchers, and records that may outlive every retry (six deliveries of
    # up to the worker's timeout each) but not the stream's retention.
    worker_refs = ({"Ref": "DuplicationWorkerFunction"}, {"Ref": f"DuplicationWorkerFunctionAlias{alias_name(source)}"})
    mappings = [r["Properties"] for r in tpl_resources.values()
                if r.get("Type") == "AWS::Lambda::EventSourceMapping"
                and r["Properties"].get("FunctionName") in worker_refs]
    if f.check(len(mappings) == 1, f"one stream mapping for the worker (got {len(mappings)})"):
        m = mappings[0]
        timeout = tpl_resources["DuplicationWorkerFunction"]["Properties"].get("Timeout", 3)
        f.check(m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], "the worker reports partial batch failures")
        f.check((m.get("ParallelizationFactor") or 1) > 1, "one job's slice holds no other job's hand-off (ParallelizationFactor)")
        age = m.get("MaximumRecordAgeInSeconds", -1)
        f.check((1 + m.get("MaximumRetryAttempts", 0)) * timeout <= age < 86400,
                f"MaximumRecordAgeInSeconds {age} covers every delivery of a record and ends before the stream's 24 h")

    # Names that must differ between two stacks of one account (staging and
    # prod): a fixed one fails the second stack. Checked on the translated
    # template, so also for the types moto skips or does not name-check;
    # main() also compares the physical ids moto gave the two stacks.
    for lid, res in tpl_resources.items():
        prop = NAME_PROPERTIES.get(res.get("Type", ""))
        if prop is None:
            continue
        name = (res.get("Properties") or {}).get(prop)
        f.check(name is None or "AWS::StackName" in json.dumps(name),
                f"{lid}: no fixed {prop} (got {name!r}): a second stack in the account would collide")

    assert_gradual(stack, source, template, params, f)
    assert_rotation(stack, template, params, f)

    # The HTTP API: stage with throttling and access logs into their group.
    gw = client("apigatewayv2")
    api_ids = physical_ids(stack, "AWS::ApiGatewayV2::Api")
    api_id = api_ids.get("AlbumHttpApi")
    if f.check(api_id is not None, "the HTTP API exists"):
        # Every HttpApi event of the SAM template is a route whose integration
        # invokes that very function's alias (the integrations name functions
        # by name, <name>:<alias>), never $LATEST.
        integrations = {i["IntegrationId"]: i for i in gw.get_integrations(ApiId=api_id)["Items"]}
        served = {}
        for route in gw.get_routes(ApiId=api_id)["Items"]:
            integration = integrations.get(route.get("Target", "").removeprefix("integrations/"), {})
            served[route["RouteKey"]] = integration.get("IntegrationUri", "").split(":function:")[-1].split("/")[0]
        for lid, res in source["Resources"].items():
            if res.get("Type") != "AWS::Serverless::Function":
                continue
            for event in (res.get("Properties", {}).get("Events") or {}).values():
                if event.get("Type") == "HttpApi":
                    key = f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}"
                    want = f"{fn_names.get(lid)}:{alias_name(source)}"
                    f.check(served.get(key) == want, f"route {key} invokes {lid}'s alias ({want}), got {served.get(key)!r}")
        f.check(len(served) == sum(1 for r in source["Resources"].values() if r.get("Type") == "AWS::Serverless::Function"
                                   for e in (r.get("Properties", {}).get("Events") or {}).values() if e.get("Type") == "HttpApi"),
                f"one route per HttpApi event (routes: {sorted(served)})")
        stage = gw.get_stage(ApiId=api_id, StageName="$default")
        access = stage.get("AccessLogSettings") or {}
        api_group = groups.get(ids.get("ApiAccessLogGroup", ""))
        f.check(api_group is not None and api_group.get("retentionInDays") == retention, "the access-log group exists with the retention")
        if api_group:
            f.check(access.get("DestinationArn", "").rstrip(":*") == api_group["arn"].rstrip(":*"), "access logs go to ApiAccessLogGroup")
        try:  # a JSON object whose values are $context variables
            fields = set(json.loads(access.get("Format", "")).values())
        except (ValueError, AttributeError):
            fields = set()
        wanted = {"$context.requestId", "$context.routeKey", "$context.status", "$context.responseLatency",
                  "$context.integrationErrorMessage", "$context.integrationStatus", "$context.identity.sourceIp",
                  "$context.httpMethod", "$context.path"}
        f.check(wanted <= fields, f"access log format is JSON with every field (missing {sorted(wanted - fields)})")
        throttle = stage.get("DefaultRouteSettings") or {}
        f.check(
            throttle.get("ThrottlingBurstLimit") == int(template["Parameters"]["ApiThrottleBurst"]["Default"])
            and throttle.get("ThrottlingRateLimit") == float(template["Parameters"]["ApiThrottleRate"]["Default"]),
            f"default route throttling from the parameters (got {throttle})",
        )
        # Per-route throttles (decision 0017): the copying routes lower, the
        # webhook on its own budget, each key a route the API serves.
        per_route = stage.get("RouteSettings") or {}
        want_routes = {route: (int(value("%sBurst" % prefix)), float(value("%sRate" % prefix)))
                       for route, prefix in ROUTE_THROTTLES.items()}
        got_routes = {k: (v.get("ThrottlingBurstLimit"), v.get("ThrottlingRateLimit")) for k, v in per_route.items()}
        f.check(got_routes == want_routes, f"per-route throttles from the parameters (got {got_routes}, want {want_routes})")
        f.check(set(per_route) <= set(served), f"every per-route throttle names a route (not: {sorted(set(per_route) - set(served))})")
        default_rate = float(value("ApiThrottleRate"))
        for route, prefix in ROUTE_THROTTLES.items():
            if prefix == "CopyRouteThrottle":
                f.check(want_routes[route][1] < default_rate, f"the copying route {route} is throttled below the default route ({want_routes[route][1]} >= {default_rate})")
        cors = gw.get_api(ApiId=api_id).get("CorsConfiguration") or {}
        f.check(
            {"authorization", "content-type", "idempotency-key", "x-token"} <= set(cors.get("AllowHeaders", []))
            and {"x-token", "x-next-cursor", "location", "retry-after", "x-request-id"} <= set(cors.get("ExposeHeaders", [])),
            f"CORS headers (got {cors})",
        )
        origins = params.get("CorsAllowedOrigins", template["Parameters"]["CorsAllowedOrigins"]["Default"])
        f.check(cors.get("AllowOrigins") == [o.strip() for o in origins.split(",")], f"CORS origins are the parameter's list (got {cors.get('AllowOrigins')!r})")
        f.check(set(cors.get("AllowMethods", [])) == {"GET", "POST", "PUT", "DELETE", "OPTIONS"}, "CORS methods")

    # Secrets: created or named, each function told of and granted only its own.
    sm = client("secretsmanager")
    secrets = {s["ARN"]: s for s in sm.list_secrets()["SecretList"]}
    jwt_arn = params.get("JwtSecretArn") or ids.get("JwtSigningSecret")
    cld_arn = params.get("CloudinaryUrlSecretArn") or ids.get("CloudinaryUrlSecret")
    f.check(jwt_arn in secrets, f"the JWT secret exists ({jwt_arn})")
    f.check(cld_arn in secrets, f"the Cloudinary secret exists ({cld_arn})")
    if not params.get("JwtSecretArn") and jwt_arn in secrets:
        value = sm.get_secret_value(SecretId=jwt_arn)["SecretString"]
        f.check(len(value) == 64 and value.isalnum(), "the generated JWT key is 64 characters, no punctuation")
    if not params.get("CloudinaryUrlSecretArn") and cld_arn in secrets:
        f.check(sm.get_secret_value(SecretId=cld_arn)["SecretString"] == params["CloudinaryUrl"], "the Cloudinary secret holds CloudinaryUrl")
    f.check(
        ("JwtSigningSecret" in ids) == (not params.get("JwtSecretArn"))
        and ("CloudinaryUrlSecret" in ids) == (not params.get("CloudinaryUrlSecretArn")),
        "the stack creates a secret exactly when no ARN is given",
    )
    lam, iam = client("lambda"), client("iam")
    role_of = {lid: tpl_resources[lid]["Properties"]["Role"]["Fn::GetAtt"][0] for lid in FUNCTIONS}
    for lid, name in fn_names.items():
        if not name:
            continue
        env = lam.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
        expected_env = {}
        if lid in NEEDS_JWT:
            expected_env["JWT_SECRET_ARN"] = jwt_arn
        if lid in NEEDS_CLOUDINARY:
            expected_env["CLOUDINARY_URL_SECRET_ARN"] = cld_arn
        if lid in NEEDS_NOTIFICATION:
            expected_env["NOTIFICATION_SECRET_ARN"] = ids.get("NotificationSigningSecret")
        got_env = {k: v for k, v in env.items() if k.endswith("_SECRET_ARN")}
        f.check(got_env == expected_env, f"{lid}: secret variables {got_env} != {expected_env}")
        f.check(not {"JWT_SECRET", "CLOUDINARY_URL", "NOTIFICATION_SECRET"} & set(env), f"{lid}: no secret value in the environment")
        # Declared for sam local only (AWS::NoValue): the regional endpoint in AWS.
        f.check("AWS_ENDPOINT_URL_DYNAMODB" not in env, f"{lid}: no local DynamoDB endpoint in the environment")
        f.check(
            (str(env.get("JOB_TTL_DAYS")) == str(template["Parameters"]["JobTtlDays"]["Default"])) == (lid in JOB_FUNCTIONS),
            f"{lid}: JOB_TTL_DAYS {'set' if lid in JOB_FUNCTIONS else 'absent'} (got {env.get('JOB_TTL_DAYS')})",
        )
        f.check(env.get("TABLE_NAME") == ids.get("AlbumsTable"), f"{lid}: TABLE_NAME is the table")
        granted = secret_arns_of_role(iam, ids[role_of[lid]])
        f.check(granted == set(expected_env.values()), f"{lid}: may read secrets {sorted(granted)}, needs {sorted(expected_env.values())}")

    # Table: TTL on expires_at, deletion protection, the stream.
    ddb = client("dynamodb")
    table = ids.get("AlbumsTable")
    if f.check(table is not None, "the table exists"):
        ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        f.check(
            ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and ttl.get("AttributeName") == "expires_at",
            f"TTL enabled on expires_at (got {ttl})",
        )
        desc = ddb.describe_table(TableName=table)["Table"]
        f.check(desc.get("DeletionProtectionEnabled") is True, "the table has deletion protection")
        f.check(desc.get("StreamSpecification", {}).get("StreamEnabled") is True, "the table has its stream")
        indexes = {i["IndexName"]: ([(k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]], i["Projection"]["ProjectionType"])
                   for i in desc.get("GlobalSecondaryIndexes", [])}
        f.check(indexes == {"by_image": ([("iid", "HASH")], "KEYS_ONLY"),
                            "by_organization": ([("organization_id", "HASH"), ("sk", "RANGE")], "KEYS_ONLY"),
                            "by_tag": ([("tg", "HASH"), ("sk", "RANGE")], "KEYS_ONLY")},
                f"the table's indexes (got {indexes})")
    f.check(template["Resources"]["AlbumsTable"].get("DeletionPolicy") == "Retain"
            and template["Resources"]["AlbumsTable"].get("UpdateReplacePolicy") == "Retain", "the table is retained")

    # Dead-letter queue and alarm topic.
    sqs, sns = client("sqs"), client("sns")
    dlq_url = ids.get("DuplicationDeadLetterQueue")
    f.check(dlq_url is not None and dlq_url in sqs.list_queues().get("QueueUrls", []), "the dead-letter queue exists")
    topic = ids.get("AlarmTopic")
    f.check(topic in [t["TopicArn"] for t in sns.list_topics()["Topics"]], "the alarm topic exists")
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] if topic else []
    email = params.get("AlarmEmail", "")
    f.check(
        [(s["Protocol"], s["Endpoint"]) for s in subs] == ([("email", email)] if email else []),
        f"alarm e-mail subscription only when AlarmEmail is given (got {[(s['Protocol'], s['Endpoint']) for s in subs]})",
    )

    # Alarms, as CloudWatch holds them.
    alarms = stack_alarms(stack)

    def find(namespace: str, metric: str, dims: dict[str, str]) -> dict | None:
        for a in alarms:
            if a.get("Namespace") == namespace and a.get("MetricName") == metric and {d["Name"]: d["Value"] for d in a.get("Dimensions", [])} == dims:
                return a
        return None

    def expect(label: str, alarm: dict | None, **want: Any) -> None:
        if not f.check(alarm is not None, f"alarm {label} exists"):
            return
        for key, value in want.items():
            f.check(alarm.get(key) == value, f"alarm {label}: {key} {alarm.get(key)!r} != {value!r}")
        f.check(alarm.get("AlarmActions") == [topic] and alarm.get("OKActions") == [topic], f"alarm {label} notifies the topic")

    queue_name = dlq_url.rsplit("/", 1)[-1] if dlq_url else ""
    expect("DLQ not empty", find("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue_name}),
           Threshold=0.0, ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    expect("worker IteratorAge", find("AWS/Lambda", "IteratorAge", {"FunctionName": fn_names["DuplicationWorkerFunction"] or ""}),
           Statistic="Maximum", Threshold=960000.0, ComparisonOperator="GreaterThanThreshold")
    expect("worker IdleSlices", find("AlbumApi", "IdleSlices", {"function": fn_names["DuplicationWorkerFunction"] or ""}),
           Statistic="Sum", Threshold=0.0, ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    for lid, name in fn_names.items():
        for metric in ("Errors", "Throttles"):
            expect(f"{lid} {metric}", find("AWS/Lambda", metric, {"FunctionName": name or ""}),
                   Statistic="Sum", Threshold=0.0, ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    expect("API 5xx", find("AWS/ApiGateway", "5xx", {"ApiId": api_id or "", "Stage": "$default"}),
           Threshold=float(template["Parameters"]["Api5xxAlarmThreshold"]["Default"]), ComparisonOperator="GreaterThanThreshold")
    expect("duplicate p99", find("AlbumApi", "DuplicateDuration", {"function": fn_names["DuplicateAlbumFunction"] or ""}),
           ExtendedStatistic="p99", Threshold=20000.0, Unit="Milliseconds", ComparisonOperator="GreaterThanThreshold")
    # The rotation function, where the stack has one: its failed steps.
    rotation = ids.get(ROTATION_FUNCTION)
    if rotation:
        expect("rotation Errors", find("AWS/Lambda", "Errors", {"FunctionName": rotation}),
               Statistic="Sum", Threshold=0.0, ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    capacity = assert_capacity(stack, template, params, ids, fn_names, api_id or "", queue_name, alarms, expect, f)
    # The five above, the capacity alarms, Errors and Throttles of each
    # function, the two rollback alarms of each HTTP function (assert_gradual),
    # the rotation's errors.
    expected = 5 + capacity + 2 * len(FUNCTIONS) + 2 * len(HTTP_FUNCTIONS) + (1 if rotation else 0)
    f.check(len(alarms) == expected, f"{len(alarms)} alarms named {stack}-*, expected {expected}")

    # Dashboard: moto holds it; its body is JSON naming the custom metrics.
    dashboards = [d["DashboardName"] for d in client("cloudwatch").list_dashboards(DashboardNamePrefix=stack)["DashboardEntries"]]
    if f.check(len(dashboards) == 1, f"one dashboard (got {dashboards})"):
        body = client("cloudwatch").get_dashboard(DashboardName=dashboards[0])["DashboardBody"]
        try:
            text = json.dumps(json.loads(body))
        except ValueError:
            text = ""
        f.check(bool(text), "the dashboard body is JSON")
        for metric in ("DuplicateDuration", "ImagesCopied", "ImagesPerSecond", "BatchRetries", "UnprocessedItemsResent",
                       "DuplicateHandoffs", "JobSlices", "IdleSlices", "WebhookAccepted", "WebhookRejected", "Answers",
                       '"Errors"', '"Duration"', '"4xx"', '"5xx"', '"Latency"'):
            f.check(metric in text, f"the dashboard shows {metric}")
        f.check("${" not in text, "the dashboard body has no unresolved ${...}")
        widgets = {}
        try:
            for w in json.loads(body).get("widgets", []):
                widgets[w.get("properties", {}).get("title", "")] = w.get("properties", {}).get("metrics", [])
        except (ValueError, AttributeError):
            pass

        def lambda_lines(title_start: str, metric: str) -> set[str]:
            lines = next((m for t, m in widgets.items() if t.startswith(title_start)), [])
            return {line[3] for line in lines if isinstance(line, list) and line[:3] == ["AWS/Lambda", metric, "FunctionName"]}

        errors, durations = lambda_lines("Lambda errors", "Errors"), lambda_lines("Lambda duration", "Duration")
        answers = next((m for t, m in widgets.items() if t.startswith("Answers")), [])
        # One line per status class, the sum of SEARCHes over groups of
        # functions (one SEARCH naming every function passed CloudWatch's
        # limit on a query's length).
        expressions = [line[0] for line in answers if isinstance(line, list) and line and isinstance(line[0], dict)]
        shown = [e for e in expressions if e.get("visible", True)]
        f.check(len(shown) == 4, f"the Answers widget shows one line per status class (got {len(shown)})")
        by_class = {}
        for e in expressions:
            m = re.search(r'status_class="(\dxx)"', e.get("expression", ""))
            if m:
                by_class.setdefault(m.group(1), []).append(e)
        f.check(sorted(by_class) == ["2xx", "3xx", "4xx", "5xx"], f"SEARCHes for each status class (got {sorted(by_class)})")
        for cls, parts in by_class.items():
            line = next((e for e in shown if e.get("label") == f"Answers {cls}"), {})
            f.check(all(p.get("visible") is False and p.get("id", "") in line.get("expression", "") for p in parts),
                    f"the Answers {cls} line sums every SEARCH of its class, which are hidden")
        searches = [e["expression"] for e in expressions if "SEARCH(" in e.get("expression", "")]
        for lid, name in fn_names.items():
            f.check(name in errors, f"the dashboard's Lambda errors widget shows {lid}")
            f.check(name in durations, f"the dashboard's Lambda duration widget shows {lid}")
            if lid in HTTP_FUNCTIONS:
                for cls, parts in by_class.items():
                    f.check(any(f'"{name}"' in p["expression"] for p in parts), f"an Answers {cls} SEARCH names {lid}")
        # With the longest stack name the template allows, every SEARCH query
        # must stay within CloudWatch's limit.
        for query in (m.group(1) for q in searches for m in re.finditer(r"SEARCH\('([^']*)'", q)):
            longest = len(query) + query.count(stack) * (LONGEST_STACK_NAME - len(stack))
            f.check(longest <= SEARCH_QUERY_MAX,
                    f"a SEARCH query is {longest} characters with a {LONGEST_STACK_NAME}-character stack name (limit {SEARCH_QUERY_MAX})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    ap.add_argument("--verbose", action="store_true", help="moto's own warnings too")
    args = ap.parse_args()
    failures = Failures()

    skipped = SkippedTypes()
    moto_logger = logging.getLogger("moto")
    moto_logger.addHandler(skipped)
    moto_logger.propagate = args.verbose
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its metrics' "unpublished" notice

    source = yaml_parse(args.template.read_text(encoding="utf-8"))
    print("Rules:")
    refusals = rules_refusals(source, {})
    failures.check(bool(refusals), "the Rules refuse a deployment with neither CloudinaryUrl nor CloudinaryUrlSecretArn")
    print(f"  no Cloudinary value: refused ({'; '.join(refusals) or 'NOT refused'})")
    print("Versions:")
    try:
        check_versions_published(source, {"CloudinaryUrl": DUMMY_CLOUDINARY_URL}, failures)
    except Exception as e:  # samtranslator reports template defects as exceptions
        failures.check(False, f"SAM translation failed: {type(e).__name__}: {e}")

    translated: dict[str, Any] = {}
    all_skipped: set[str] = set()
    stacks_created = 0
    stack_ids: dict[str, dict[str, tuple[str, str]]] = {}
    # Both environments in one account and region, one after the other.
    with mock_aws(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for env, title, extra in ENVIRONMENTS:
            stack, overrides, deploy = environment(env)
            print(f"\nEnvironment {env} (samconfig.toml): stack {stack or '?'}, {title}")
            if not failures.check(bool(stack), f"samconfig.toml has an environment {env} with a stack name"):
                continue
            failures.check(len(stack) <= LONGEST_STACK_NAME, f"{env}: stack name {stack} within {LONGEST_STACK_NAME} characters")
            failures.check("CAPABILITY_IAM" in str(deploy.get("capabilities", "")), f"{env}: deploys with CAPABILITY_IAM (the functions' roles)")
            unknown = sorted(set(overrides) - set(source.get("Parameters") or {}))
            failures.check(not unknown, f"{env}: parameter overrides name the template's parameters (unknown: {unknown})")
            print(f"  parameter overrides: {', '.join(f'{k}={v!r}' for k, v in overrides.items()) or 'none'}")
            Bridge.created.clear()
            Bridge.resolved.clear()
            skipped.types.clear()
            caught.clear()
            params = {**overrides, **extra}
            for name, value in extra.items():
                if value == EXISTING:  # created by the operator before the deployment
                    params[name] = client("secretsmanager").create_secret(
                        Name=f"{stack}/{name}", SecretString=EXISTING_VALUES[name])["ARN"]
            refused = rules_refusals(source, params)
            failures.check(not refused, f"the Rules accept this environment ({refused})")
            try:
                translated = translate(args.template, params)
            except Exception as e:  # samtranslator reports template defects as exceptions
                failures.check(False, f"SAM translation failed: {type(e).__name__}: {e}")
                break
            cycle = dependency_cycle(translated, params)
            if not failures.check(not cycle, f"no circular dependency ({' -> '.join(cycle)})"):
                continue
            try:
                created = create_stack(stack, copy.deepcopy(translated), params)
            except Exception as e:  # moto raises what CloudFormation reports as CREATE_FAILED
                found = re.search(r'"message": "([^"]*)"', str(e))
                created = {"StackStatus": "CREATE_FAILED", "StackStatusReason": found.group(1) if found else str(e)}
            stacks_created += 1
            status = created["StackStatus"]
            print(f"  stack status: {status} {created.get('StackStatusReason', '')}".rstrip())
            if not failures.check(status == "CREATE_COMPLETE", f"{env}: stack status {status} {created.get('StackStatusReason', '')}"):
                continue
            assert_stack(stack, source, translated, params, failures)
            resources = [
                r for r in client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
                if "LogicalResourceId" in r  # moto lists skipped resources without ids or types
            ]
            stack_ids[env] = {r["LogicalResourceId"]: (r["ResourceType"], r.get("PhysicalResourceId", "")) for r in resources}
            warned = [str(w.message) for w in caught if "not supported by moto's CloudFormation" in str(w.message)]
            created_types = Counter(r["ResourceType"] for r in resources)
            cond = conditions(translated, params)
            live = [r for r in translated["Resources"].values() if "Condition" not in r or cond[r["Condition"]]]
            template_types = Counter(r["Type"] for r in live)
            print(
                f"  resources: {len(translated['Resources'])} in the translated template, {len(live)} with these parameters "
                f"(the others' Condition is false), {sum(created_types.values())} created, "
                f"{len(live) - sum(created_types.values())} skipped by moto"
            )
            width = max(map(len, template_types | created_types))
            for rtype in sorted(template_types | created_types):
                how = "" if rtype in NATIVE_TYPES else (" (created by the rehearsal through moto's API)" if rtype in BRIDGED_TYPES else " (SKIPPED by moto)")
                print(f"    {rtype:<{width}} {created_types.get(rtype, 0):>3}{how}")
            reported = skipped.types | {w.split("Tried to parse ", 1)[1].split(" but", 1)[0] for w in warned}
            all_skipped |= reported
            print(f"  moto reported unsupported: {', '.join(sorted(reported)) or 'none'}")

        # Two environments of one account: nothing of one may be the other's.
        if len(stack_ids) == 2:
            (first, a), (second, b) = stack_ids.items()
            shared = sorted(f"{lid} ({rtype}: {pid})" for lid, (rtype, pid) in b.items()
                            if rtype not in PER_PARENT_IDS and pid and pid in {p for t, p in a.values() if t == rtype})
            print(f"\nEnvironments {first} and {second} in one account: {len(a)} and {len(b)} resources, "
                  f"{len(shared)} physical ids in common")
            failures.check(not shared, f"{second} shares no resource with {first}: {shared}")
            # Both stacks' reservations in one account at its default limit:
            # Lambda refuses any that would leave fewer than 100 unreserved.
            lam = client("lambda")
            reserved = sum(int(lam.get_function_concurrency(FunctionName=fn["FunctionName"]).get("ReservedConcurrentExecutions") or 0)
                           for page in lam.get_paginator("list_functions").paginate() for fn in page["Functions"])
            limit = int(source["Parameters"]["AccountConcurrencyLimit"]["Default"])
            print(f"  reserved concurrency of both: {reserved} of the account's {limit}, {limit - reserved} unreserved")
            failures.check(limit - reserved >= UNRESERVED_MINIMUM,
                           f"both environments' reservations ({reserved}) leave {UNRESERVED_MINIMUM} of {limit} executions unreserved")

    not_native = sorted({r["Type"] for r in translated.get("Resources", {}).values()} - NATIVE_TYPES)
    print("\nResource types moto's CloudFormation cannot create by itself:")
    print(f"  bridged (created through moto's service APIs, checked above): {', '.join(t for t in not_native if t in BRIDGED_TYPES) or 'none'}")
    print(f"  skipped (checked by cfn-lint alone): {', '.join(sorted(all_skipped)) or 'none'}")
    print("Gradual deploys: versions and aliases, the CodeDeploy application, deployment groups, schedules and alarms in moto;")
    print("  the deployment groups' alarms, the permissions' and the stream mapping's function as CloudFormation resolved them;")
    print("  the aliases' UpdatePolicy (CodeDeploy moves them) and the asynchronous retries' qualifier in the translated template;")
    print("  CodeDeploy's traffic shifting and rollback: not rehearsed (no emulator runs a deployment)")
    print(f"Properties moto's CloudFormation ignores, applied by the rehearsal: {', '.join(APPLIED_PROPERTIES)};")
    print("  ignored and checked in the translated template instead: AWS::Lambda::Function LoggingConfig, TracingConfig")
    unexpected = sorted(set(not_native) - BRIDGED_TYPES - all_skipped)
    failures.check(not stacks_created or not unexpected, f"types neither native, bridged nor reported skipped: {unexpected}")

    elapsed = time.monotonic() - STARTED
    if failures.items:
        print(f"\nrehearse-deploy: {len(failures.items)} of {failures.checks} checks FAILED ({elapsed:.1f} s)")
        return 1
    print(f"\nrehearse-deploy: {failures.checks} checks passed, {stacks_created} stacks CREATE_COMPLETE ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
