-- Tenants and their API keys. Keys are never stored: only their SHA-256 (hex) and a short prefix that
-- lets operators tell keys apart.
CREATE TABLE tenants (
    id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    tier       text NOT NULL CHECK (tier IN ('free', 'paid', 'enterprise')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    key_sha256 text PRIMARY KEY CHECK (key_sha256 ~ '^[0-9a-f]{64}$'),
    key_prefix text NOT NULL,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE INDEX api_keys_tenant ON api_keys (tenant_id);
