#!/usr/bin/env bash
# Packs the RedisEdge packages (the six feature packages and RedisEdge.Testing, with their .snupkg symbol packages) into a folder.
# Usage: scripts/pack.sh [output folder, default artifacts/packages] [version suffix, default none]
# The version comes from Directory.Build.props (VersionPrefix); a suffix (e.g. local.20261206120000) makes a local
# pack that never collides with a copy of the same version already in the NuGet cache.
# SourceLink is on when the repository's origin is on GitHub (it maps the PDBs to that commit), off otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-artifacts/packages}"
suffix="${2:-}"
mkdir -p "$out"

args=(-c Release -warnaserror -nologo -v quiet -o "$out")
[ -n "$suffix" ] && args+=("-p:VersionSuffix=$suffix")
if git remote get-url origin 2>/dev/null | grep -q 'github\.com'; then
  args+=(-p:EnableSourceLink=true -p:ContinuousIntegrationBuild=true)
else
  echo "pack: the git origin is not on GitHub; packing without SourceLink." >&2
fi

for project in src/*/*.csproj; do
  dotnet pack "$project" "${args[@]}"
done
ls "$out"
