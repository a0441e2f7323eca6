-- pgbench: the statement spaces-oauth runs for a read-back
-- (IPackInstanceOAuthConnectorDetails) read alone (record_reads: reads that arrive
-- together share it, one key hash each in the array)
-- Same keys as bench/graphql.lua: key k belongs to account k % naccounts. The key hash
-- (record_key::key_hash: SHA-256 over each key part's length, 8 bytes big-endian, and
-- bytes) is computed by PostgreSQL here, as the server computes it in Rust.
-- Run with -M prepared -D nkeys=… -D naccounts=….
\set k random(0, :nkeys - 1)
\set a :k % :naccounts
SELECT "connector_details"."id", "connector_details"."space_guid", "connector_details"."account_id", "connector_details"."integration_pack_instance_id", "connector_details"."process_id", "connector_details"."env_id", "connector_details"."connection_id", "connector_details"."key_hash", "connector_details"."client_id", "connector_details"."client_secret", "connector_details"."sealed_client_secret", "connector_details"."oauth_connector_details", "connector_details"."sealed_details_secrets", "connector_details"."token_settings_fingerprint", "connector_details"."secret_binding", "connector_details"."is_token_generated", "connector_details"."connection_status", "connector_details"."connection_status_changed_at", "connector_details"."created_at", "connector_details"."updated_at" FROM "connector_details" WHERE "connector_details"."key_hash" = ANY(ARRAY[encode(sha256(int8send(11) || convert_to('bench-space', 'UTF8') || int8send(octet_length('bench-acct-' || :a::text)::int8) || convert_to('bench-acct-' || :a::text, 'UTF8') || int8send(octet_length('ipack-' || :k::text)::int8) || convert_to('ipack-' || :k::text, 'UTF8') || int8send(2) || convert_to('p1', 'UTF8') || int8send(2) || convert_to('e1', 'UTF8') || int8send(2) || convert_to('c1', 'UTF8')), 'hex')]);
