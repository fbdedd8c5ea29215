# Recomputes the audit chain of an evidence bundle with sed and sha256sum alone (docs/audit.md).
# Run it in the folder the bundle was unzipped into: bash verify-chain.sh
# Each line of audit.jsonl is the event in canonical JSON (RFC 8785), keys sorted, so its
# "hash" field sits between "data" and "n"; the event's hash is the sha256 of the line with
# that field taken out, and "prev" must be the previous line's hash (64 zeros for the first).
prev=0000000000000000000000000000000000000000000000000000000000000000
n=0
while IFS= read -r line; do
  n=$((n + 1))
  # The last ,"hash":"…" of the line is the event's own (data may hold fields named hash too).
  link=$(printf '%s' "$line" | sed -n 's/.*,"hash":"\([0-9a-f]\{64\}\)","n":\([0-9]*\),"prev":"\([0-9a-f]\{64\}\)",.*/\1 \2 \3/p')
  if [ -z "$link" ]; then echo "event $n: not an audit event line"; exit 1; fi
  set -- $link
  [ "$2" = "$n" ] || { echo "event $n: numbered $2 (an event was deleted, inserted or moved)"; exit 1; }
  [ "$3" = "$prev" ] || { echo "event $n: prev is not the hash of event $((n - 1))"; exit 1; }
  body=$(printf '%s' "$line" | sed 's/\(.*\),"hash":"[0-9a-f]\{64\}"/\1/')
  got=$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$1" ] || { echo "event $n: its content hashes to $got, not $1 (edited)"; exit 1; }
  prev=$1
done < audit.jsonl
[ "$n" -gt 0 ] || { echo "no events"; exit 1; }
echo "chain ok, head $prev ($n events)"
