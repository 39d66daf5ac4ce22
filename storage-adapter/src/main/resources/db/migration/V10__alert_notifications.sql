-- Alerting, part 2 (issue #18): where notifications go (receivers, routes), what mutes them (silences), and how
-- they are sent (notification groups, the delivery outbox).
CREATE TABLE alert_receivers (
    tenant_id           text NOT NULL REFERENCES tenants (id),
    name                text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('alertmanager', 'webhook')),
    url                 text NOT NULL,
    headers             jsonb NOT NULL DEFAULT '{}',
    send_resolved       boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

-- A tenant's routes, in order: an alert goes to the first route whose matchers all match it (and on to later ones
-- while a matched route says continue).
CREATE TABLE alert_routes (
    tenant_id           text NOT NULL REFERENCES tenants (id),
    position            integer NOT NULL,
    matchers            jsonb NOT NULL DEFAULT '[]',
    receiver            text NOT NULL,
    group_by            jsonb NOT NULL DEFAULT '["alertname"]',
    group_wait_ms       bigint NOT NULL CHECK (group_wait_ms >= 0),
    group_interval_ms   bigint NOT NULL CHECK (group_interval_ms > 0),
    repeat_interval_ms  bigint NOT NULL CHECK (repeat_interval_ms > 0),
    continue_matching   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, position)
);

CREATE TABLE alert_silences (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id           text NOT NULL REFERENCES tenants (id),
    matchers            jsonb NOT NULL,
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz NOT NULL,
    created_by          text NOT NULL,
    comment             text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at >= starts_at) -- equal once expired before it started
);

CREATE INDEX alert_silences_tenant ON alert_silences (tenant_id, ends_at);

-- One row per notification group: a receiver and the values of its route's group_by labels. An alerter claims due
-- groups (next_flush_at passed) FOR UPDATE SKIP LOCKED and, in the same transaction, updates the group and inserts
-- its notification into alert_outbox: two alerters never both send one group's notification. last_sent holds the
-- (fingerprint, status) pairs last notified; send_seq counts the notifications (part of the idempotency key).
CREATE TABLE alert_groups (
    tenant_id           text NOT NULL,
    receiver            text NOT NULL,
    group_key           text NOT NULL,
    group_labels        jsonb NOT NULL,
    first_seen_at       timestamptz NOT NULL,
    last_sent_at        timestamptz,
    last_sent           jsonb,
    next_flush_at       timestamptz NOT NULL,
    send_seq            bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, receiver, group_key)
);

CREATE INDEX alert_groups_due ON alert_groups (next_flush_at);

-- Notifications accepted for delivery: a row is deleted once its receiver took it (2xx), or once
-- alerting.delivery-max-age passed (dropped, counted); until then it is retried with backoff, across restarts.
-- A sender leases the rows it claims (lease_owner, lease_until) so that no other sends them meanwhile; at most
-- alerting.outbox-max-rows rows per tenant (the oldest are dropped, counted).
CREATE TABLE alert_outbox (
    id                  bigserial PRIMARY KEY,
    tenant_id           text NOT NULL,
    receiver            text NOT NULL,
    idempotency_key     text NOT NULL UNIQUE,
    payload             jsonb NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    lease_owner         text,
    lease_until         timestamptz,
    last_error          text
);

CREATE INDEX alert_outbox_due ON alert_outbox (next_attempt_at);
CREATE INDEX alert_outbox_tenant ON alert_outbox (tenant_id, created_at);
