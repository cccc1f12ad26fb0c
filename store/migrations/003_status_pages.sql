-- The dashboard's side of the schema: public status pages, and the browser sessions that the
-- dashboard's login creates from an API key.

-- status_pages are public: anyone with the slug sees the page, so a page shows only what its
-- groups list, and a website's URL only when show_urls is set.
CREATE TABLE status_pages (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    show_urls   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- status_page_groups are a page's ordered sections ("API", "Websites").
CREATE TABLE status_page_groups (
    page_id  uuid NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    position integer NOT NULL,
    name     text NOT NULL CHECK (length(name) <= 100),
    PRIMARY KEY (page_id, position)
);

-- status_page_websites lists each group's websites in order. Deleting a website takes it off
-- every page.
CREATE TABLE status_page_websites (
    page_id        uuid NOT NULL,
    group_position integer NOT NULL,
    position       integer NOT NULL,
    website_id     uuid NOT NULL REFERENCES websites (id) ON DELETE CASCADE,
    PRIMARY KEY (page_id, group_position, position),
    FOREIGN KEY (page_id, group_position) REFERENCES status_page_groups (page_id, position) ON DELETE CASCADE
);

CREATE INDEX status_page_websites_website ON status_page_websites (website_id);

-- dashboard_sessions are logins made with an API key. Only the SHA-256 of the session token is
-- stored. A session dies with its key: revoking the key ends it at the next request, and
-- deleting the key deletes it.
CREATE TABLE dashboard_sessions (
    token_hash bytea PRIMARY KEY,
    key_id     uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);
CREATE INDEX dashboard_sessions_key ON dashboard_sessions (key_id);

-- The overview filters and pages websites by name; this keeps its first page an index scan.
CREATE INDEX websites_name_id ON websites (lower(name), id);

---- create above / drop below ----

DROP INDEX websites_name_id;
DROP TABLE dashboard_sessions;
DROP TABLE status_page_websites;
DROP TABLE status_page_groups;
DROP TABLE status_pages;
