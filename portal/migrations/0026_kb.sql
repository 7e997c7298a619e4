-- The knowledge base: articles and the business's info pages, in
-- categories, written in Markdown and kept rendered (sanitised) for the
-- public pages; a draft is never served publicly.
CREATE TABLE kb_categories (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE kb_articles (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL DEFAULT 'article' CHECK (kind IN ('article', 'page')),
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,              -- Markdown, as written
    html        TEXT NOT NULL,              -- rendered and sanitised
    category_id INTEGER REFERENCES kb_categories(id) ON DELETE SET NULL,
    position    INTEGER NOT NULL DEFAULT 0,
    lang        TEXT NOT NULL DEFAULT '',   -- '' every language, else en or ru
    published   INTEGER NOT NULL DEFAULT 0,
    audience    TEXT NOT NULL DEFAULT 'public' CHECK (audience IN ('public', 'clients')),
    helpful     INTEGER NOT NULL DEFAULT 0,
    unhelpful   INTEGER NOT NULL DEFAULT 0,
    views       INTEGER NOT NULL DEFAULT 0,
    author_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX kb_articles_category ON kb_articles(category_id, position);

-- Search: rowid = article id; contentless, rebuilt when an article is saved.
CREATE VIRTUAL TABLE kb_search USING fts5(title, body, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2');

-- Deflection: a client who opened a suggested article while writing a
-- ticket; ticketed when they went on to send one within the hour.
CREATE TABLE kb_deflections (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    article_id INTEGER NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    ticketed   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, article_id)
) WITHOUT ROWID;
