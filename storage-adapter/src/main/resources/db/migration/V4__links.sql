-- Short links and their per-minute click counters.

-- Link ids come from this sequence in blocks of 64 (a gateway reserves a block with one nextval and hands
-- the ids out itself); codes are a keyed permutation of the id, so they are collision-free and not guessable.
CREATE SEQUENCE link_ids INCREMENT BY 64 MINVALUE 64 START WITH 64;

CREATE TABLE links (
    code       text PRIMARY KEY,
    tenant     text NOT NULL REFERENCES tenants (id),
    target     text NOT NULL CHECK (length(target) <= 2048),
    redirect   smallint NOT NULL CHECK (redirect IN (301, 302, 307, 308)),
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX links_tenant_listing ON links (tenant, created_at, code);

-- Clicks per link and minute, written by the storage writer exactly once (offsets in the same transaction).
CREATE TABLE link_clicks (
    code   text NOT NULL,
    minute timestamptz NOT NULL,
    clicks bigint NOT NULL,
    bots   bigint NOT NULL,
    PRIMARY KEY (code, minute)
);

-- The secret that keys the code permutation, made once per database so every node shares it.
INSERT INTO sluice_info (key, value) VALUES ('link_code_key', md5(random()::text || clock_timestamp()::text))
ON CONFLICT (key) DO NOTHING;
