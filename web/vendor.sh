#!/usr/bin/env bash
# Re-vendors GraphiQL's browser assets into web/graphiql/ from the npm
# registry (npm pack: the package tarballs only, no dependency install) and
# checks each file against the SRI hash gqlgen's playground.Handler pins for
# its CDN copy, so the embedded files are byte-identical to what gqlgen would
# load from cdn.jsdelivr.net. Run it after bumping gqlgen if
# `go test ./web` reports that the pinned hashes changed, then update the
# versions below, in README.md and in graphiql.go's comment.
set -euo pipefail
cd "$(dirname "$0")"

GRAPHIQL=4.1.2 # gqlgen v0.17.98 playground.Handler defaults
REACT=18.2.0

# file in package -> destination, expected SRI (from gqlgen's playground.go)
assets=(
  "graphiql@$GRAPHIQL graphiql.min.js graphiql.min.js sha256-hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs="
  "graphiql@$GRAPHIQL graphiql.min.css graphiql.min.css sha256-MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU="
  "react@$REACT umd/react.production.min.js react.production.min.js sha256-S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY="
  "react-dom@$REACT umd/react-dom.production.min.js react-dom.production.min.js sha256-IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc="
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for spec in "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT"; do
  mkdir -p "$tmp/$spec"
  tgz=$(cd "$tmp/$spec" && npm pack --silent "$spec")
  tar -xzf "$tmp/$spec/$tgz" -C "$tmp/$spec"
done

for a in "${assets[@]}"; do
  read -r spec src dst sri <<<"$a"
  got="sha256-$(openssl dgst -sha256 -binary "$tmp/$spec/package/$src" | base64)"
  if [ "$got" != "$sri" ]; then
    echo "$spec/$src: $got, want $sri" >&2
    exit 1
  fi
  cp "$tmp/$spec/package/$src" "graphiql/$dst"
  echo "graphiql/$dst <- $spec/$src ($sri)"
done
cp "$tmp/graphiql@$GRAPHIQL/package/LICENSE" graphiql/LICENSE.graphiql
cp "$tmp/react@$REACT/package/LICENSE" graphiql/LICENSE.react
