# Sourced by the scripts in bin/: sets JAVA to a Java 17+ launcher (JAVA_HOME first, then the PATH),
# or explains what is missing and exits.
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  JAVA="$JAVA_HOME/bin/java"
elif command -v java >/dev/null 2>&1; then
  JAVA="$(command -v java)"
else
  echo "sluice: no Java found. Install a JDK 17 or newer, or set JAVA_HOME." >&2
  exit 1
fi
JAVA_MAJOR="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')"
if [ -z "$JAVA_MAJOR" ] || [ "$JAVA_MAJOR" -lt 17 ]; then
  echo "sluice: $JAVA is Java ${JAVA_MAJOR:-unknown}; Sluice needs 17 or newer (set JAVA_HOME)." >&2
  exit 1
fi
