#!/usr/bin/env bash
# The AI pipeline end to end with curl and jq, offline (the local provider): register, a site and
# sector, ten keywords, then auto_cluster → ideas → tasks → articles → image prompts → images,
# following each job at task_progress, and the credits it cost. B= another server.
set -euo pipefail
B=${B:-http://localhost:8000/api/v1}
J='Content-Type: application/json'
curl -s -X POST $B/auth/register/ -H "$J" -d '{"email":"me@example.com","password":"a-long-password","password_confirm":"a-long-password"}' >/dev/null
TOKEN=$(curl -s -X POST $B/auth/login/ -H "$J" -d '{"email":"me@example.com","password":"a-long-password"}' | jq -r .data.access)
A="Authorization: Bearer $TOKEN"
SITE=$(curl -s -X POST $B/auth/sites/ -H "$A" -H "$J" -d '{"name":"Coffee blog"}' | jq .data.id)
SECTOR=$(curl -s -X POST $B/auth/sectors/ -H "$A" -H "$J" -d "{\"name\":\"Brewing\",\"site_id\":$SITE}" | jq .data.id)
for k in "pour over coffee" "pourover coffee maker" "best pour over kettle" "french press ratio" \
         "how to use a french press" "french press vs pour over" "buy espresso machine" \
         "cheap espresso machine" "espresso machine reviews" "how to descale espresso machine"; do
  curl -s -X POST $B/planner/keywords/ -H "$A" -H "$J" \
       -d "{\"keyword\":\"$k\",\"volume\":$((RANDOM % 5000)),\"site_id\":$SITE,\"sector_id\":$SECTOR}" >/dev/null
done
wait_for() {  # poll task_progress until the job is done; print its result
  while :; do
    P=$(curl -s $B/system/settings/task_progress/$1/ -H "$A")
    case $(echo "$P" | jq -r .data.state) in SUCCESS|FAILURE|REVOKED) echo "$P" | jq -c '.data | {state, result, error}'; return;; esac
    sleep 1
  done
}
IDS=$(curl -s "$B/planner/keywords/?sector_id=$SECTOR&page_size=100" -H "$A" | jq -c '[.results[].id]')
T=$(curl -s -X POST $B/planner/keywords/auto_cluster/ -H "$A" -H "$J" -d "{\"ids\":$IDS,\"sector_id\":$SECTOR}" | jq -r .data.task_id)
wait_for $T
curl -s "$B/planner/clusters/?sector_id=$SECTOR" -H "$A" | jq -c '[.results[] | {id, name, keywords_count}]'
for C in $(curl -s "$B/planner/clusters/?sector_id=$SECTOR" -H "$A" | jq '.results[].id'); do
  T=$(curl -s -X POST $B/planner/clusters/auto_generate_ideas/ -H "$A" -H "$J" -d "{\"ids\":[$C]}" | jq -r .data.task_id)
  wait_for $T
done
IDEAS=$(curl -s "$B/planner/ideas/?sector_id=$SECTOR" -H "$A" | jq -c '[.results[].id]')
curl -s -X POST $B/planner/ideas/bulk_queue_to_writer/ -H "$A" -H "$J" -d "{\"ids\":$IDEAS}" | jq -c .data
TASKS=$(curl -s "$B/writer/tasks/?sector_id=$SECTOR" -H "$A" | jq -c '[.results[].id]')
T=$(curl -s -X POST $B/writer/tasks/auto_generate_content/ -H "$A" -H "$J" -d "{\"ids\":$TASKS}" | jq -r .data.task_id)
wait_for $T
CONTENT=$(curl -s "$B/writer/content/?sector_id=$SECTOR" -H "$A" | jq -c '[.results[].id]')
curl -s "$B/writer/content/?sector_id=$SECTOR" -H "$A" | jq -c '[.results[] | {title, word_count, meta_title}]'
T=$(curl -s -X POST $B/writer/content/generate_image_prompts/ -H "$A" -H "$J" -d "{\"ids\":$CONTENT}" | jq -r .data.task_id)
wait_for $T
IMAGES=$(curl -s "$B/writer/images/?sector_id=$SECTOR&status=pending&page_size=100" -H "$A" | jq -c '[.results[].id]')
T=$(curl -s -X POST $B/writer/images/generate_images/ -H "$A" -H "$J" -d "{\"ids\":$IMAGES}" | jq -r .data.task_id)
wait_for $T
URL=$(curl -s $B/writer/images/$(echo $IMAGES | jq '.[0]')/file/ -H "$A" | jq -r .data.url)
echo "first image: $URL"
curl -s -o first-image.png "$URL" && echo "saved first-image.png"
curl -s $B/billing/credits/balance/balance/ -H "$A" | jq -c .data
curl -s $B/billing/credits/usage/summary/ -H "$A" | jq -c .data
