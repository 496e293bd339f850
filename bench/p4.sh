#!/usr/bin/env bash
# P4: each Lambda function's bootstrap size (linux/arm64, built as `make
# build` builds it) against 12 MB, and its init time under the Lambda
# Runtime Interface Emulator against a hello-world bootstrap's (bench/hello),
# measured in the same run. No Docker: the emulator is built from the Go
# module proxy, at a pinned version, into the gitignored bin/.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
rie_dir=$PWD/bin/rie-$RIE_VERSION
if [[ ! -x $rie_dir/aws-lambda-rie ]]; then
  # go install module@version builds outside our module: go.mod stays as it is.
  GOBIN=$rie_dir CGO_ENABLED=0 $GO install "$RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION"
fi
GO=$GO $GO run ./bench/cmd/p4 -rie "$rie_dir/aws-lambda-rie" -n "${P4_RUNS:-15}"
