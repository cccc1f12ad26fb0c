-- The foundation: regions, websites and the API keys that guard them.

CREATE TABLE regions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE websites (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                   text NOT NULL,
    url                    text NOT NULL,
    method                 text NOT NULL DEFAULT 'GET',
    headers                jsonb NOT NULL DEFAULT '{}',
    body                   text NOT NULL DEFAULT '',
    interval_seconds       integer NOT NULL DEFAULT 180 CHECK (interval_seconds BETWEEN 10 AND 86400),
    timeout_ms             integer NOT NULL DEFAULT 10000 CHECK (timeout_ms BETWEEN 1 AND 60000),
    slow_ms                integer NOT NULL DEFAULT 0,
    expected_status        text NOT NULL DEFAULT '200-399',
    keyword                text NOT NULL DEFAULT '',
    -- all_regions: the website is checked from every region, including regions added later.
    all_regions            boolean NOT NULL DEFAULT true,
    enabled                boolean NOT NULL DEFAULT true,
    alert_emails           text[] NOT NULL DEFAULT '{}',
    webhooks               text[] NOT NULL DEFAULT '{}',
    confirmations_down     integer NOT NULL DEFAULT 2 CHECK (confirmations_down BETWEEN 1 AND 10),
    confirmations_up       integer NOT NULL DEFAULT 1 CHECK (confirmations_up BETWEEN 1 AND 10),
    retry_interval_seconds integer NOT NULL DEFAULT 20 CHECK (retry_interval_seconds BETWEEN 1 AND 3600),
    quorum                 integer NOT NULL DEFAULT 0 CHECK (quorum >= 0),
    alert_regional         boolean NOT NULL DEFAULT false,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX websites_created_id ON websites (created_at, id);

-- website_regions lists the regions of websites that do not follow all regions.
CREATE TABLE website_regions (
    website_id uuid NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
    region_id  uuid NOT NULL REFERENCES regions (id) ON DELETE CASCADE,
    PRIMARY KEY (website_id, region_id)
);

CREATE INDEX website_regions_region ON website_regions (region_id);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL,
    -- hash is the SHA-256 of the key; the key itself is shown once and never stored.
    hash         bytea NOT NULL UNIQUE,
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

---- create above / drop below ----

DROP TABLE api_keys;
DROP TABLE website_regions;
DROP TABLE websites;
DROP TABLE regions;
