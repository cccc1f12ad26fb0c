-- Downtime detection and notifications: the confirmed state of each (website, region) pair as
-- the notifier last applied it, the regional downtime periods, the website incidents that the
-- quorum opens, and the transactional outbox that the sender delivers.

-- region_states is the notifier's copy of each pair's confirmed state. since is the At of the
-- last applied transition: an event whose At is not newer, or whose state equals the stored
-- one, changes nothing, so redelivered and re-emitted events are harmless.
CREATE TABLE region_states (
    website_id uuid NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
    region     text NOT NULL,
    state      text NOT NULL CHECK (state IN ('unknown', 'up', 'down')),
    since      timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (website_id, region)
);

-- incidents are website-wide outages: at least the quorum of the website's regions were down.
CREATE TABLE incidents (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    website_id  uuid NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    -- the cause: the first failing region's outcome, reason and message
    outcome     text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    message     text NOT NULL DEFAULT '',
    status_code integer NOT NULL DEFAULT 0,
    regions     text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);

-- A website has at most one open incident, whatever races the notifiers run into.
CREATE UNIQUE INDEX incidents_one_open ON incidents (website_id) WHERE ended_at IS NULL;
CREATE INDEX incidents_started ON incidents (started_at DESC, id DESC);
CREATE INDEX incidents_website_started ON incidents (website_id, started_at DESC, id DESC);

-- region_downtimes are the per-region periods during which a pair was confirmed down.
CREATE TABLE region_downtimes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    website_id  uuid NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
    region      text NOT NULL,
    -- the incident this period contributed to, if the quorum was met while it was open
    incident_id uuid REFERENCES incidents (id) ON DELETE SET NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    outcome     text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    message     text NOT NULL DEFAULT '',
    status_code integer NOT NULL DEFAULT 0,
    response_ms bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);

CREATE UNIQUE INDEX region_downtimes_one_open ON region_downtimes (website_id, region) WHERE ended_at IS NULL;
CREATE INDEX region_downtimes_website_started ON region_downtimes (website_id, started_at DESC);
CREATE INDEX region_downtimes_incident ON region_downtimes (incident_id) WHERE incident_id IS NOT NULL;

-- outbox holds one notification per (incident, kind, channel, recipient), written in the same
-- transaction as the incident change. The unique key makes a redelivered event write nothing.
-- While state is 'sending', next_attempt_at is the end of the sender's lease: a sender that
-- died mid-send leaves a row that becomes due again when the lease runs out.
CREATE TABLE outbox (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    incident_id     uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('down', 'recovered')),
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient       text NOT NULL,
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'given_up')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    UNIQUE (incident_id, kind, channel, recipient)
);

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state IN ('pending', 'sending');
CREATE INDEX outbox_given_up ON outbox (created_at DESC, id DESC) WHERE state = 'given_up';

-- notification_attempts records every delivery attempt; error is NULL for a success.
CREATE TABLE notification_attempts (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id uuid NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    at        timestamptz NOT NULL,
    error     text
);

CREATE INDEX notification_attempts_outbox ON notification_attempts (outbox_id, at);

---- create above / drop below ----

DROP TABLE notification_attempts;
DROP TABLE outbox;
DROP TABLE region_downtimes;
DROP TABLE incidents;
DROP TABLE region_states;
