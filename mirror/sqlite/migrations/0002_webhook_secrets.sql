-- The live feed's webhook secrets in pass-through mode (feed.SecretBackend,
-- secrets.go): one value per tenant, sealed by feed.SealedSecrets before it
-- gets here. tenant is an upstream.TenantID; a tenant may register hooks
-- without ever being mirrored, so this table does not reference tenants.
CREATE TABLE webhook_secrets (
	tenant     TEXT PRIMARY KEY,
	secret     TEXT    NOT NULL,
	created_ms INTEGER NOT NULL
);
