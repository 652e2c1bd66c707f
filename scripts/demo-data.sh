#!/usr/bin/env bash
# Creates the local table and the contract's data in the local DynamoDB:
# the organization, the user of events/*.json's token, album
# 00100000123BB44 with 5 realistic images, and album team_album with 3
# (events/update-album-merge.json merges it into 00100000123BB44). Meant
# for a fresh local DynamoDB (scripts/with-dynalite.sh starts one per run).
# Every image of 00100000123BB44 is tagged `summer` (events/tag-images.json,
# list-tag-images.json and delete-tag-image.json use it).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${AWS_ENDPOINT_URL_DYNAMODB:?run me through scripts/with-dynalite.sh}"
eval "$(python3 -c '
import json, shlex
for k, v in json.load(open("env.local.json"))["Parameters"].items():
    if k != "AWS_ENDPOINT_URL_DYNAMODB":
        print(f"export {k}={shlex.quote(v)}")')"
ORG=a89b5b70-d820-4911-8c6d-25ab6181e9be
USER_ID=9ed26283-3299-4a05-b9d6-e34278fbd416
# The workspace's build, not `-p albumctl` alone: cargo unifies features
# per build, so albumctl's own would compile its dependencies a second
# time (in `make test`'s log check: a minute of CPU beside moto's run).
cargo build --quiet --workspace --bins --examples
ctl=target/debug/albumctl
$ctl create-table
$ctl create-org --id "$ORG" --name "Demo organization"
$ctl create-user --id "$USER_ID" --org "$ORG"
$ctl seed --album 00100000123BB44 --org "$ORG" --images 5 --tag summer
$ctl seed --album team_album --org "$ORG" --images 3
