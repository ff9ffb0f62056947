#!/usr/bin/env bash
# Packs the library and the CLI tool into a local folder, installs both from there, and uses them:
# every package carries its readme, licence and XML docs (with a symbol package beside it); the tool
# installs as `tributary`, answers --help and lists topics of a running broker; a fresh console app
# referencing the Tributary.Server package starts an embedded broker and talks to it.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
broker_pid=""
cleanup() { [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

dotnet pack Tributary.slnx -c Release -o "$work/packages" -v q -nologo
ls "$work/packages"

for id in Tributary.Protocol Tributary.Storage Tributary.Broker Tributary.Server Tributary.Aspire.Hosting tributary; do
  nupkg="$work/packages/$id.0.1.0.nupkg"
  listing=$(unzip -l "$nupkg")
  for entry in README.md LICENSE; do
    grep -qE " $entry\$" <<<"$listing" || { echo "$id: $entry missing from the package"; exit 1; }
  done
  nuspec=$(unzip -p "$nupkg" "$id.nuspec")
  grep -q '<license type="expression">MIT</license>' <<<"$nuspec" || { echo "$id: no licence expression"; exit 1; }
  grep -q '<repository type="git" url="https://' <<<"$nuspec" || { echo "$id: no repository URL (SourceLink)"; exit 1; }
  symbols=$(unzip -l "$work/packages/$id.0.1.0.snupkg")
  grep -qE '\.pdb$' <<<"$symbols" || { echo "$id: no symbols package"; exit 1; }
  if [ "$id" != tributary ]; then
    grep -qE " lib/net10.0/$id\.xml\$" <<<"$listing" || { echo "$id: XML docs missing from the package"; exit 1; }
  fi
done

dotnet tool install tributary --version 0.1.0 --tool-path "$work/tool" --add-source "$work/packages"
"$work/tool/tributary" --help | head -3

port=$(( 20000 + RANDOM % 20000 ))
admin_port=$(( port + 1 ))
"$work/tool/tributary" serve --set listeners=PLAINTEXT://127.0.0.1:$port --set tributary.admin.listeners=http://127.0.0.1:$admin_port \
  --set log.dirs="$work/data" > "$work/broker.log" 2>&1 &
broker_pid=$!
# Up to 60 s: the tool's first start is JIT-compiled, on a machine CI may keep busy.
for _ in $(seq 1 600); do
  grep -q "listening" "$work/broker.log" && break
  kill -0 "$broker_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q "listening" "$work/broker.log" || { echo "the packaged broker did not start:"; cat "$work/broker.log"; exit 1; }
"$work/tool/tributary" topics create smoke --partitions 2 --bootstrap 127.0.0.1:$port
"$work/tool/tributary" topics list --bootstrap 127.0.0.1:$port | grep -qx smoke
kill -TERM "$broker_pid"; wait "$broker_pid" || true; broker_pid=""
grep -q "Stopped cleanly" "$work/broker.log"

mkdir -p "$work/app"
cat > "$work/app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="local" value="$work/packages" />
  </packageSources>
</configuration>
XML
cat > "$work/app/app.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Tributary.Server" Version="0.1.0" />
  </ItemGroup>
</Project>
XML
cat > "$work/app/Program.cs" <<'CS'
using Tributary.Server;
var options = new TributaryBrokerOptions();
options.Topics["smoke"] = 2;
await using var broker = await TributaryBroker.StartAsync(options);
var topic = broker.Core.Metadata.Find("smoke") ?? throw new InvalidOperationException("topic missing");
Console.WriteLine($"embedded broker at {broker.BootstrapServers} with {topic.PartitionCount} partitions");
CS
(cd "$work/app" && dotnet run -c Release) | tee "$work/app.out"
grep -q "with 2 partitions" "$work/app.out"
echo "package smoke test passed"
