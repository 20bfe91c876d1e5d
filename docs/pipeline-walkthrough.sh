#!/usr/bin/env bash
# The AI pipeline end to end with curl and jq, offline (the local provider): an account, a site
# and sector, ten keywords, then auto_cluster → ideas → tasks → articles → image prompts →
# images, following each job at task_progress, and the credits it cost.
#
# Re-runnable: each run makes its own account (walkthrough-<run>@example.com, with the free
# plan's credits) and its own site, so a second run against the same server works. EMAIL and
# PASSWORD reuse an account instead (logged in, registered if it does not exist yet). It stops
# with a message on any answer that is not 2xx, on a missing id, on a failed job, and when a
# job is not done after TIMEOUT seconds; a 429 is waited out (Retry-After) and retried.
#
#   bash docs/pipeline-walkthrough.sh                       # against make run's server
#   B=http://localhost:8001/api/v1 bash docs/pipeline-walkthrough.sh
#   OUT=/tmp/x.png TIMEOUT=600 bash docs/pipeline-walkthrough.sh
set -euo pipefail
shopt -s inherit_errexit
B=${B:-http://localhost:8000/api/v1}
RUN=${RUN:-$(date +%Y%m%d%H%M%S)-$$}
EMAIL=${EMAIL:-walkthrough-$RUN@example.com}
PASSWORD=${PASSWORD:-a-long-password}
TIMEOUT=${TIMEOUT:-300}
OUT=${OUT:-first-image.png}
TOKEN=

for tool in curl jq; do
  command -v $tool >/dev/null || { echo "walkthrough: needs $tool (apt install $tool)" >&2; exit 1; }
done

die() { echo "walkthrough: $*" >&2; exit 1; }

# api METHOD PATH [JSON]: the answer's body on stdout; stops on anything but a 2xx.
api() {
  local method=$1 path=$2 body=${3:-} out status tries=0
  local args=(-sS -X "$method" -w '\n%{http_code}' -H 'Accept: application/json' -D "$HEADERS")
  [ -n "$TOKEN" ] && args+=(-H "Authorization: Bearer $TOKEN")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
  while :; do
    out=$(curl "${args[@]}" "$B$path") || die "$method $B$path: no answer (is the server running? B=$B)"
    status=${out##*$'\n'}
    out=${out%$'\n'*}
    if [ "$status" = 429 ] && [ $((tries += 1)) -le 5 ]; then
      local wait
      wait=$(tr -d '\r' <"$HEADERS" | awk -F': ' 'tolower($1)=="retry-after" {print $2}')
      echo "  (throttled on $path: waiting ${wait:-10}s)" >&2
      sleep "${wait:-10}"
      continue
    fi
    case $status in
      2??) printf '%s\n' "$out"; return;;
      *) die "$method $path answered $status: $(echo "$out" | jq -r '.error // .' 2>/dev/null || echo "$out")";;
    esac
  done
}
HEADERS=$(mktemp)
trap 'rm -f "$HEADERS"' EXIT

# need WHAT VALUE: VALUE, or stop when it is empty or null.
need() {
  { [ -n "$2" ] && [ "$2" != null ] && [ "$2" != "[]" ]; } || die "no $1 in the answer"
  printf '%s\n' "$2"
}

# wait_for TASK_ID: poll task_progress until the job is done (or TIMEOUT); print its result.
wait_for() {
  local id=$1 deadline=$((SECONDS + TIMEOUT)) p state
  while :; do
    p=$(api GET "/system/settings/task_progress/$id/")
    state=$(echo "$p" | jq -r .data.state)
    case $state in
      SUCCESS) echo "$p" | jq -c '.data | {state, result}'; return;;
      FAILURE|REVOKED) die "job $id ended $state: $(echo "$p" | jq -c '.data.error // .data')";;
    esac
    [ $SECONDS -lt $deadline ] || die "job $id not done after ${TIMEOUT}s (state $state)"
    sleep 1
  done
}

# queue PATH JSON: POST an AI action, wait for its job.
queue() {
  local task
  task=$(need "task_id from $1" "$(api POST "$1" "$2" | jq -r .data.task_id)")
  wait_for "$task"
}

CREDS=$(jq -nc --arg e "$EMAIL" --arg p "$PASSWORD" '{email: $e, password: $p}')
LOGIN=$(curl -sS -X POST "$B/auth/login/" -H 'Content-Type: application/json' -d "$CREDS" \
        -w '\n%{http_code}') || die "POST $B/auth/login/: no answer (is the server running? B=$B)"
if [ "${LOGIN##*$'\n'}" != 200 ]; then  # no such account yet: register it
  REG=$(curl -sS -X POST "$B/auth/register/" -H 'Content-Type: application/json' -w '\n%{http_code}' \
        -d "$(echo "$CREDS" | jq -c '. + {password_confirm: .password}')") || die "no answer from $B"
  case ${REG##*$'\n'} in
    201) ;;
    409) die "$EMAIL exists but its login was refused: is PASSWORD right?";;
    *) die "POST /auth/register/ answered ${REG##*$'\n'}: $(echo "${REG%$'\n'*}" | jq -c '.errors // .error // .' 2>/dev/null)";;
  esac
fi
TOKEN=$(need "access token" "$(api POST /auth/login/ "$CREDS" | jq -r .data.access)")
echo "account: $EMAIL (password $PASSWORD)"

SITE=$(need "site id" "$(api POST /auth/sites/ "$(jq -nc --arg n "Coffee blog $RUN" '{name: $n}')" \
       | jq .data.id)")
SECTOR=$(need "sector id" "$(api POST /auth/sectors/ \
         "$(jq -nc --argjson s "$SITE" '{name: "Brewing", site_id: $s}')" | jq .data.id)")
echo "site $SITE, sector $SECTOR"
for k in "pour over coffee" "pourover coffee maker" "best pour over kettle" "french press ratio" \
         "how to use a french press" "french press vs pour over" "buy espresso machine" \
         "cheap espresso machine" "espresso machine reviews" "how to descale espresso machine"; do
  api POST /planner/keywords/ "$(jq -nc --arg k "$k" --argjson v $((RANDOM % 5000)) \
      --argjson s "$SITE" --argjson c "$SECTOR" \
      '{keyword: $k, volume: $v, site_id: $s, sector_id: $c}')" >/dev/null
done

IDS=$(need "keyword ids" "$(api GET "/planner/keywords/?sector_id=$SECTOR&page_size=100" \
      | jq -c '[.results[].id]')")
queue /planner/keywords/auto_cluster/ "{\"ids\":$IDS,\"sector_id\":$SECTOR}"
CLUSTERS=$(api GET "/planner/clusters/?sector_id=$SECTOR&page_size=100")
echo "$CLUSTERS" | jq -c '[.results[] | {id, name, keywords_count}]'
CIDS=$(need "cluster ids" "$(echo "$CLUSTERS" | jq -c '[.results[].id]')")
for C in $(echo "$CIDS" | jq '.[]'); do
  queue /planner/clusters/auto_generate_ideas/ "{\"ids\":[$C]}"
done
IDEAS=$(need "idea ids" "$(api GET "/planner/ideas/?sector_id=$SECTOR&page_size=100" \
        | jq -c '[.results[].id]')")
api POST /planner/ideas/bulk_queue_to_writer/ "{\"ids\":$IDEAS}" | jq -c .data
TASKS=$(need "task ids" "$(api GET "/writer/tasks/?sector_id=$SECTOR&page_size=100" \
        | jq -c '[.results[].id]')")
queue /writer/tasks/auto_generate_content/ "{\"ids\":$TASKS}"
CONTENT=$(api GET "/writer/content/?sector_id=$SECTOR&page_size=100")
echo "$CONTENT" | jq -c '[.results[] | {title, word_count, meta_title}]'
queue /writer/content/generate_image_prompts/ \
      "{\"ids\":$(need "content ids" "$(echo "$CONTENT" | jq -c '[.results[].id]')")}"
IMAGES=$(need "image ids" "$(api GET "/writer/images/?sector_id=$SECTOR&status=pending&page_size=100" \
         | jq -c '[.results[].id]')")
queue /writer/images/generate_images/ "{\"ids\":$IMAGES}"
URL=$(need "image url" "$(api GET "/writer/images/$(echo "$IMAGES" | jq '.[0]')/file/" \
      | jq -r .data.url)")
echo "first image: $URL"
curl -sSf -o "$OUT" "$URL" || die "could not download $URL"
echo "saved $OUT"
api GET /billing/credits/balance/balance/ | jq -c .data
api GET /billing/credits/usage/summary/ | jq -c .data
echo "done: log in as $EMAIL to see it all in Swagger UI (${B%/api/v1}/api/docs/)"
