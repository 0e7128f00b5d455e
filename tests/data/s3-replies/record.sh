#!/bin/bash
# Re-records the S3 replies in this folder from a live Ceph RGW (the test
# fixture): tests/fixtures/rgw.sh start /tmp/rgw/s3.env && ./record.sh /tmp/rgw/s3.env
# Uses curl's own SigV4 (curl >= 7.75; it does not add x-amz-content-sha256,
# so it is passed here). Replies are saved as received.
set -euo pipefail
env_file=$1
out=$(cd "$(dirname "$0")" && pwd)
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
E=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
s3() {  # s3 SHA256 curl-args...
  local h=$1
  shift
  curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: $h" "$@"
}
enc() { python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=sys.argv[2]))' "$1" "$2"; }
put() {  # put BUCKET KEY TEXT (KEY decoded)
  local f
  f=$(mktemp)
  printf %s "$3" >"$f"
  s3 "$(sha256sum "$f" | cut -c1-64)" -f -T "$f" "$S3_ENDPOINT/$1/$(enc "$2" /)" -o /dev/null
  rm -f "$f"
}
b=replies-$$
s3 $E -X PUT -H "x-amz-bucket-object-lock-enabled: true" "$S3_ENDPOINT/$b" -o /dev/null
lock='<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>'
s3 "$(printf %s "$lock" | sha256sum | cut -c1-64)" -X PUT --data-binary "$lock" \
  -H "Content-MD5: $(printf %s "$lock" | openssl md5 -binary | base64)" "$S3_ENDPOINT/$b?object-lock=" -o /dev/null
s3 $E "$S3_ENDPOINT/$b?object-lock=" >"$out/get-object-lock-configuration.xml"
for k in "p/a one" "p/b&two" "p/c-three" "p/dé" "q/other"; do put "$b" "$k" "body of $k"; done
put "$b" "p/a one" "second version of p/a one"
s3 $E -X DELETE "$S3_ENDPOINT/$b/p/c-three" -o /dev/null  # a delete marker
s3 $E "$S3_ENDPOINT/$b?list-type=2&max-keys=2&prefix=p%2F" >"$out/list-objects-v2-page1.xml"
token=$(sed -n 's/.*<NextContinuationToken>\([^<]*\)<.*/\1/p' "$out/list-objects-v2-page1.xml" | sed 's/&amp;/\&/g')
s3 $E "$S3_ENDPOINT/$b?continuation-token=$(enc "$token" "")&list-type=2&max-keys=2&prefix=p%2F" \
  >"$out/list-objects-v2-page2.xml"
s3 $E "$S3_ENDPOINT/$b?prefix=p%2F&versions=" >"$out/list-object-versions.xml"
v=$(sed -n 's/.*<Key>p\/dé<\/Key><VersionId>\([^<]*\)<.*/\1/p' "$out/list-object-versions.xml")
s3 $E "$S3_ENDPOINT/$b/p/d%C3%A9?retention=&versionId=$v" >"$out/get-object-retention.xml"
s3 $E -X DELETE "$S3_ENDPOINT/$b/p/d%C3%A9?versionId=$v" >"$out/error-delete-locked.xml"
s3 $E -X POST "$S3_ENDPOINT/$b/big?uploads=" >"$out/initiate-multipart-upload.xml"
s3 $E -X POST "$S3_ENDPOINT/$b/big2?uploads=" -o /dev/null
s3 $E "$S3_ENDPOINT/$b?uploads=" >"$out/list-multipart-uploads.xml"
id=$(sed -n 's/.*<UploadId>\([^<]*\)<.*/\1/p' "$out/initiate-multipart-upload.xml")
part=$(mktemp)
printf 'the only part' >"$part"
etag=$(s3 "$(sha256sum "$part" | cut -c1-64)" -T "$part" -D - -o /dev/null "$S3_ENDPOINT/$b/big?partNumber=1&uploadId=$id" |
  tr -d '\r' | sed -n 's/^[Ee][Tt]ag: *//p')
rm -f "$part"
complete="<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>$etag</ETag></Part></CompleteMultipartUpload>"
s3 "$(printf %s "$complete" | sha256sum | cut -c1-64)" -X POST --data-binary "$complete" \
  "$S3_ENDPOINT/$b/big?uploadId=$id" >"$out/complete-multipart-upload.xml"
s3 $E "$S3_ENDPOINT/no-such-bucket-$$?list-type=2" >"$out/error-no-such-bucket.xml"
curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:wrong-secret" \
  -H "x-amz-content-sha256: $E" "$S3_ENDPOINT/$b?list-type=2" >"$out/error-signature-does-not-match.xml"
echo "recorded into $out (bucket $b left in the fixture)"
