-- Name search bounded at any list size (issue 12). The list order (sort_key) becomes the search
-- words of "last first email-local-part", folded and each once (contacts::model::sort_key); the
-- hook that runs with this migration (contacts::store::resort) writes every contact's new key and
-- indexes it. A search word is found two ways (contacts::store::list): contacts whose leading
-- word starts with it are one range of the list order, read in order; the full-text index holds
-- only the other words ("rest"), so it answers the few contacts matched by a later word.
-- The old index, over first name, last name and the whole email, expanded a prefix over every
-- email's own token ("smith123", "smith124", …) and matched ".com" for everyone.
DROP TRIGGER contacts_fts_insert;
DROP TRIGGER contacts_fts_delete;
DROP TRIGGER contacts_fts_update;
DROP TABLE contacts_fts;
-- rowid = contacts.id; rest = sort_key without its first word. Prefixes of 2 and 3 characters
-- are indexed as such: "jo"* read one list instead of merging john's, jose's, joseph's… (3.9 ms
-- -> 0.15 ms over 1,000,000 contacts; the index takes 2.7 s longer to build for them).
CREATE VIRTUAL TABLE contacts_search USING fts5(
    rest,
    content = '', contentless_delete = 1, prefix = '2 3',
    tokenize = 'unicode61 remove_diacritics 2'
);
