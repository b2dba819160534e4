#!/bin/sh
# The README walkthrough as a script: register, log in, whoami, refresh, a second device listed and logged out,
# the Bearer challenge of a missing, a forged and (with EXPIRY_WAIT) an expired access token, then logout-all.
# Needs curl and a POSIX shell.
#
#   sh examples/curl.sh                                  # against http://127.0.0.1:3000 (npm start)
#   BASE_URL=http://127.0.0.1:4000 EMAIL=bob@example.com sh examples/curl.sh
#   EXPIRY_WAIT=4 sh examples/curl.sh                    # with a server started with
#                                                        # ACCESS_TOKEN_TTL=3s CLOCK_TOLERANCE=0
#
# EXPIRY_WAIT is how many seconds to wait for the access token to expire. It must exceed ACCESS_TOKEN_TTL plus
# CLOCK_TOLERANCE of the server (15 min + 30 s by default), so the expired-token step is skipped when unset.
# No jq: fields are cut out of the JSON with sed, which is enough for these flat answers. Because the JSON
# bodies are built by hand, EMAIL and PASSWORD must not contain a double quote or a backslash.
# test/clients/curl-script.test.ts runs this script against a real Tessera and checks every line it prints.
set -eu

BASE_URL=${BASE_URL:-http://127.0.0.1:3000}
# A new address on every run, so the script can run again against the same server.
EMAIL=${EMAIL:-curl-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')@example.com}
PASSWORD=${PASSWORD:-correct horse battery staple}
EXPIRY_WAIT=${EXPIRY_WAIT:-}

# Every request is bounded in time; -sS is quiet but still reports a connection failure.
api () { curl -sS --max-time 10 "$@"; }
json () { api -H 'content-type: application/json' "$@"; }
# Prints one string field of a one-line JSON answer.
field () { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
# Prints one number field.
number () { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
# The status line, the WWW-Authenticate challenge and the body of `curl -si`, indented; other headers are left out.
# -w '\n' ends the body with a newline; tr drops the CRs of the HTTP header lines.
challenge () {
  api -si -w '\n' "$@" | tr -d '\r' \
    | sed -n -e '/^HTTP\//p' -e '/^[Ww][Ww][Ww]-[Aa][Uu][Tt][Hh][Ee][Nn][Tt][Ii][Cc][Aa][Tt][Ee]:/p' -e '/^{/p' \
    | sed 's/^/  /'
}
# Exchanges $REFRESH for new tokens (the refresh token rotates) and keeps them in ACCESS and REFRESH.
refresh () {
  REFRESHED=$(json "$BASE_URL/v1/auth/refresh" -d "{\"refreshToken\":\"$REFRESH\"}")
  ACCESS=$(echo "$REFRESHED" | field accessToken)
  REFRESH=$(echo "$REFRESHED" | field refreshToken)
  if [ -z "$REFRESH" ]; then echo "refresh failed: $REFRESHED"; exit 1; fi
}
CREDENTIALS="{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}"

# 1. Register: 201, and already a session. A second run with the same EMAIL gets 409 ERR_EMAIL_TAKEN.
echo "register: HTTP $(json -o /dev/null -w '%{http_code}' "$BASE_URL/v1/auth/register" -d "$CREDENTIALS")"

# 2. Log in: a short-lived access token and a refresh token.
LOGIN=$(json "$BASE_URL/v1/auth/login" -d "$CREDENTIALS")
ACCESS=$(echo "$LOGIN" | field accessToken)
REFRESH=$(echo "$LOGIN" | field refreshToken)
if [ -z "$ACCESS" ]; then echo "login failed: $LOGIN"; exit 1; fi
echo "login: $(echo "$LOGIN" | field email), user id $(echo "$LOGIN" | field id), access token expires in $(echo "$LOGIN" | number expiresIn) s"

# 3. Who am I: the claims of the verified access token (Tessera reads no storage for this).
echo "whoami: $(api "$BASE_URL/v1/auth/whoami" -H "authorization: Bearer $ACCESS")"

# 4. Refresh: new access and refresh tokens; the old refresh token is not used again.
refresh
echo "refresh: ok, new access and refresh tokens"

# 5. A second device signs in, with a name for the devices list (without one, the User-Agent gives a label).
#    GET /v1/me/sessions lists the user's active sessions, most recently used first; "current" marks the caller's.
SECOND=$(json "$BASE_URL/v1/auth/login" -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"deviceName\":\"Second laptop\"}")
SECOND_ACCESS=$(echo "$SECOND" | field accessToken)
SECOND_REFRESH=$(echo "$SECOND" | field refreshToken)
SESSIONS=$(api "$BASE_URL/v1/me/sessions" -H "authorization: Bearer $ACCESS")
NAMES=$(echo "$SESSIONS" | grep -o '"deviceName":"[^"]*"' | sed 's/"deviceName":"\(.*\)"/\1/' | paste -sd, - | sed 's/,/, /g')
echo "devices: $NAMES; this one: $(echo "$SESSIONS" | sed -n 's/.*"deviceName":"\([^"]*\)",[^}]*"current":true.*/\1/p')"

# 6. Log the second device out (POST /v1/auth/logout with its own token): 204. Its refresh token is refused from now
#    on; its access token stays valid until it expires, as checking one reads nothing (REVOCATION_MODE=hybrid refuses
#    it within seconds). From another device, DELETE /v1/me/sessions/{id} does the same.
echo "logout second device: HTTP $(api -o /dev/null -w '%{http_code}' -X POST "$BASE_URL/v1/auth/logout" -H "authorization: Bearer $SECOND_ACCESS")"
echo "second device refresh:"
challenge "$BASE_URL/v1/auth/refresh" -H 'content-type: application/json' -d "{\"refreshToken\":\"$SECOND_REFRESH\"}"
echo "devices left: $(api "$BASE_URL/v1/me/sessions" -H "authorization: Bearer $ACCESS" | grep -o '"deviceName"' | wc -l | tr -d ' ')"

# 7. No token at all: 401 with a bare challenge (RFC 6750 §3.1: no error code when no credentials were sent).
echo "no token:"
challenge "$BASE_URL/v1/auth/whoami"

# 8. A forged token (the signature replaced): 401 with error="invalid_token".
echo "forged token:"
challenge "$BASE_URL/v1/auth/whoami" -H "authorization: Bearer ${ACCESS%.*}.Zm9yZ2Vk"

# 9. An expired token: 401 error="invalid_token" too. A client answers that challenge by refreshing once and
#    retrying the request; a 401 without it (wrong password, no token) is never worth a refresh.
if [ -n "$EXPIRY_WAIT" ]; then
  sleep "$EXPIRY_WAIT"
  echo "expired token (after $EXPIRY_WAIT s):"
  challenge "$BASE_URL/v1/auth/whoami" -H "authorization: Bearer $ACCESS"
  refresh
  echo "refreshed and retried: whoami HTTP $(api -o /dev/null -w '%{http_code}' "$BASE_URL/v1/auth/whoami" -H "authorization: Bearer $ACCESS")"
else
  echo "expired token: skipped (set EXPIRY_WAIT; see the top of this script)"
fi

# 10. Log out everywhere: 204. Every refresh token of the user is refused from now on.
echo "logout-all: HTTP $(api -o /dev/null -w '%{http_code}' -X POST "$BASE_URL/v1/auth/logout-all" -H "authorization: Bearer $ACCESS")"

# 11. The latest refresh token is refused: 401 ERR_REFRESH_TOKEN_REVOKED, and no challenge (not a Bearer failure).
echo "refresh after logout-all:"
challenge "$BASE_URL/v1/auth/refresh" -H 'content-type: application/json' -d "{\"refreshToken\":\"$REFRESH\"}"
