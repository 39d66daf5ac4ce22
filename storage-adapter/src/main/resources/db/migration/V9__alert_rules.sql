-- Alerting, part 1 (issue #18): rules, the alerts they raise, and the history of those alerts' states.
--
-- Scheduling: any number of alerter processes share the rules through this table. An alerter claims rules that
-- are due (next_eval_at <= now()) and not leased (lease_until passed), with FOR UPDATE SKIP LOCKED, setting
-- lease_owner, lease_until and a new lease_token. It stores an evaluation's result only if the rule still carries
-- that token (a fencing token), in the same transaction as the alerts, their history and next_eval_at; so one
-- evaluation per interval is stored, and an alerter that stalled past its lease stores nothing.
CREATE TABLE alert_rules (
    id                  bigserial PRIMARY KEY,
    tenant_id           text NOT NULL REFERENCES tenants (id),
    group_name          text NOT NULL,
    name                text NOT NULL,
    -- the rule as given: PromQL (expr) or Sluice's query form (query), optionally compared with a threshold
    expr                text,
    query               jsonb,
    op                  text CHECK (op IN ('>', '>=', '<', '<=', '==', '!=')),
    threshold           float8,
    for_ms              bigint NOT NULL DEFAULT 0 CHECK (for_ms >= 0),
    keep_firing_for_ms  bigint NOT NULL DEFAULT 0 CHECK (keep_firing_for_ms >= 0),
    interval_ms         bigint NOT NULL CHECK (interval_ms > 0),
    no_data             text NOT NULL DEFAULT 'keep' CHECK (no_data IN ('keep', 'alert', 'resolve')),
    labels              jsonb NOT NULL DEFAULT '{}',
    annotations         jsonb NOT NULL DEFAULT '{}',
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- scheduling and health (written by alerters)
    next_eval_at        timestamptz NOT NULL DEFAULT now(),
    lease_owner         text,
    lease_until         timestamptz,
    lease_token         bigint NOT NULL DEFAULT 0,
    last_eval_at        timestamptz,
    last_eval_ms        integer,
    health              text NOT NULL DEFAULT 'unknown' CHECK (health IN ('unknown', 'ok', 'error')),
    last_error          text,
    CHECK ((expr IS NULL) <> (query IS NULL)),
    CHECK ((op IS NULL) = (threshold IS NULL)),
    UNIQUE (tenant_id, group_name, name)
);

CREATE INDEX alert_rules_due ON alert_rules (next_eval_at);

-- One row per alert: a rule and one label set (fingerprint: a hash of the rule id and the sorted labels).
-- Inactive alerts have no row; a resolved one stays alerting.resolved-retention so that its resolution is notified.
-- Alerts outlive their rule's deletion as resolved (no foreign key): deleting a rule resolves what it fired.
CREATE TABLE alert_instances (
    rule_id             bigint NOT NULL,
    fingerprint         bigint NOT NULL,
    tenant_id           text NOT NULL,
    labels              jsonb NOT NULL,
    annotations         jsonb NOT NULL,
    state               text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    value               float8,
    active_at           timestamptz NOT NULL,
    fired_at            timestamptz,
    resolved_at         timestamptz,
    last_seen_at        timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (rule_id, fingerprint)
);

CREATE INDEX alert_instances_tenant_state ON alert_instances (tenant_id, state);

-- Every state change of every alert, with the value and the evaluation time that caused it.
CREATE TABLE alert_history (
    id                  bigserial PRIMARY KEY,
    tenant_id           text NOT NULL,
    rule_id             bigint NOT NULL,
    fingerprint         bigint NOT NULL,
    labels              jsonb NOT NULL,
    from_state          text NOT NULL CHECK (from_state IN ('inactive', 'pending', 'firing', 'resolved')),
    to_state            text NOT NULL CHECK (to_state IN ('inactive', 'pending', 'firing', 'resolved')),
    value               float8,
    at                  timestamptz NOT NULL
);

CREATE INDEX alert_history_rule ON alert_history (rule_id, at);
CREATE INDEX alert_history_tenant ON alert_history (tenant_id, at);
