#!/usr/bin/env bash
# The manual device flow from the README, with openssl and curl only:
# factory certificate -> enrollment with a CSR -> a gateway call -> revocation -> refusal.
# Run it from the repository root while `npm start` is running. A test runs it against a live server.
set -euo pipefail

# Where the server is comes from the configuration it runs with (CARAPACE_GATEWAY_PORT, CARAPACE_DATA_DIR, a
# CARAPACE_CONFIG file...), through `carapace config endpoints`: no URL or port is written here.
CARAPACE=${CARAPACE:-npx carapace}
# A fresh serial each run: a revoked unit's serial is never enrolled again.
SERIAL=${SERIAL:-TCU-$(date +%s)-$RANDOM}
WORK=${WORK:-$(mktemp -d)}
eval "$($CARAPACE config endpoints --format env)"
GATEWAY=$GATEWAY_URL
ADMIN=$ADMIN_URL
cd "$WORK"
CA=$CA_FILE
case "$CA" in /*) ;; *) CA="$OLDPWD/$CA" ;; esac
case "$OPERATOR_CERT" in /*) ;; *) OPERATOR_CERT="$OLDPWD/$OPERATOR_CERT"; OPERATOR_KEY="$OLDPWD/$OPERATOR_KEY" ;; esac

echo "1. Manufacturing: a factory certificate for $SERIAL, provisioned for a vehicle"
(cd "$OLDPWD" && $CARAPACE pki factory-cert --serial "$SERIAL" --out "$WORK/factory") > factory.json

echo "2. The device makes its own key and a CSR"
openssl genpkey -algorithm ED25519 -out device-key.pem
openssl req -new -key device-key.pem -subj "/CN=$SERIAL" -out device.csr

echo "3. Enrollment over mTLS with the factory certificate"
curl -sS --fail-with-body --cacert "$CA" --cert factory/factory-cert.pem --key factory/factory-key.pem \
  -H 'content-type: application/pkcs10' -H 'accept: application/pem-certificate-chain' \
  --data-binary @device.csr "$GATEWAY/v1/enrollments" -o device-cert.pem
DEVICE_ID=$(openssl x509 -in device-cert.pem -noout -ext subjectAltName | grep -o 'urn:carapace:device:[0-9a-f-]*' | cut -d: -f4)
echo "   enrolled as device $DEVICE_ID until $(openssl x509 -in device-cert.pem -noout -enddate | cut -d= -f2)"

echo "4. The device calls the gateway with its operational certificate"
curl -sS --fail-with-body --cacert "$CA" --cert device-cert.pem --key device-key.pem "$GATEWAY/v1/devices/$DEVICE_ID"
echo

echo "5. An operator revokes the device on the admin plane"
curl -sS --fail-with-body --cacert "$CA" --cert "$OPERATOR_CERT" --key "$OPERATOR_KEY" \
  -H 'content-type: application/json' -d "{\"deviceId\":\"$DEVICE_ID\",\"reason\":\"keyCompromise\"}" "$ADMIN/admin/v1/revocations"
echo

echo "6. The revoked device is refused"
STATUS=$(curl -sS -o refusal.json -w '%{http_code}' --cacert "$CA" --cert device-cert.pem --key device-key.pem "$GATEWAY/v1/devices/$DEVICE_ID")
cat refusal.json; echo
[ "$STATUS" = 401 ] || { echo "expected 401, got $STATUS" >&2; exit 1; }
echo "Done: the refusal is in the audit trail (npx carapace audit list --type gateway.request.refused)."
