-- A webhook's own signing secret (Standard Webhooks: "whsec_" and the base64 of 24 to 64
-- bytes). websites.webhooks stays the list of URLs, so that a plain URL is still a webhook and
-- its receivers are signed with VIGIL_WEBHOOK_SECRET; a row here gives one URL of one website
-- a secret of its own. The API writes it and never returns it; the notifier reads it when it
-- sends, so a retry after a rotation is signed with the new secret. A URL that leaves the
-- website's list loses its row (pkg/postgres keeps the two in step).
CREATE TABLE webhook_secrets (
    website_id uuid NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
    url        text NOT NULL,
    secret     text NOT NULL CHECK (secret ~ '^whsec_[A-Za-z0-9+/]+={0,2}$'),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (website_id, url)
);

---- create above / drop below ----

DROP TABLE webhook_secrets;
