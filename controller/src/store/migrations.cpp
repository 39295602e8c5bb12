#include "store/migrations.hpp"

namespace microscape::controller {

// Long by nature: this is the schema's history as data (one entry per version,
// applied in order, never edited once released), not logic to split.
const std::vector<std::vector<std::string>>& schemaMigrations() {
    // Times are UTC milliseconds since the epoch; dates (YYYY-MM-DD) are local to
    // the location they are evaluated at.
    static const std::vector<std::vector<std::string>> kMigrations = {
        // 1: users, sessions, tokens, audit, media library, fleet, scheduling.
        {
            R"(CREATE TABLE users (
                id INTEGER PRIMARY KEY,
                username TEXT NOT NULL UNIQUE,
                display_name TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('admin','editor','approver','auditor')),
                department TEXT,
                password_hash TEXT NOT NULL,
                disabled INTEGER NOT NULL DEFAULT 0,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL))",
            R"(CREATE TABLE sessions (
                token_hash TEXT PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                csrf_token TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL))",
            R"(CREATE TABLE api_tokens (
                id INTEGER PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at INTEGER NOT NULL,
                last_used_at INTEGER,
                revoked_at INTEGER))",
            R"(CREATE TABLE audit_log (
                id INTEGER PRIMARY KEY,
                at INTEGER NOT NULL,
                actor_id INTEGER,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                entity TEXT NOT NULL,
                entity_id TEXT,
                before_json TEXT,
                after_json TEXT))",
            R"(CREATE TABLE tags (name TEXT PRIMARY KEY, seeded INTEGER NOT NULL DEFAULT 0))",
            R"(INSERT INTO tags(name, seeded) VALUES
                ('反诈防骗',1),('禁毒',1),('一盔一带',1),('文明交通',1),('国家安全',1),('反恐',1),('法治教育',1))",
            R"(CREATE TABLE media (
                id INTEGER PRIMARY KEY,
                sha256 TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL CHECK (kind IN ('image','video','audio','text')),
                mime TEXT NOT NULL,
                size_bytes INTEGER NOT NULL,
                display_name TEXT NOT NULL,
                original_name TEXT,
                department TEXT,
                state TEXT NOT NULL CHECK (state IN ('draft','pending','approved','rejected')),
                uploaded_by INTEGER NOT NULL REFERENCES users(id),
                reviewed_by INTEGER REFERENCES users(id),
                review_reason TEXT,
                reviewed_at INTEGER,
                duration_ms INTEGER,
                width INTEGER,
                height INTEGER,
                slogan_json TEXT,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL))",
            R"(CREATE TABLE media_tags (
                media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
                tag TEXT NOT NULL,
                PRIMARY KEY (media_id, tag)))",
            R"(CREATE TABLE playlists (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                department TEXT,
                created_by INTEGER NOT NULL REFERENCES users(id),
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL))",
            R"(CREATE TABLE playlist_items (
                playlist_id INTEGER NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                media_id INTEGER NOT NULL REFERENCES media(id),
                duration_ms INTEGER,
                valid_from INTEGER,
                valid_until INTEGER,
                PRIMARY KEY (playlist_id, position)))",
            R"(CREATE TABLE locations (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                venue_type TEXT NOT NULL CHECK (venue_type IN
                    ('mall','garage_entrance','building_entrance','street_gate','community','campus','other')),
                district TEXT NOT NULL,
                address TEXT NOT NULL DEFAULT '',
                timezone TEXT NOT NULL,
                hours_json TEXT NOT NULL DEFAULT '[]',
                filler_playlist_id INTEGER REFERENCES playlists(id),
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL))",
            R"(CREATE TABLE location_tags (
                location_id INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
                tag TEXT NOT NULL,
                PRIMARY KEY (location_id, tag)))",
            R"(CREATE TABLE enroll_tokens (
                id INTEGER PRIMARY KEY,
                token_hash TEXT NOT NULL UNIQUE,
                name TEXT,
                location_id INTEGER REFERENCES locations(id),
                created_by INTEGER NOT NULL REFERENCES users(id),
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                used_at INTEGER,
                player_id TEXT))",
            R"(CREATE TABLE players (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                location_id INTEGER REFERENCES locations(id),
                width INTEGER,
                height INTEGER,
                orientation TEXT NOT NULL DEFAULT 'landscape' CHECK (orientation IN ('landscape','portrait')),
                state TEXT NOT NULL CHECK (state IN ('enrolled','retired')),
                identity_key TEXT NOT NULL,
                curve_key TEXT NOT NULL UNIQUE,
                enroll_token_id INTEGER REFERENCES enroll_tokens(id),
                enrolled_at INTEGER NOT NULL,
                last_seen_at INTEGER,
                status_json TEXT,
                updated_at INTEGER NOT NULL))",
            R"(CREATE TABLE campaigns (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                theme TEXT,
                starts_on TEXT NOT NULL,
                ends_on TEXT NOT NULL,
                department TEXT,
                created_by INTEGER NOT NULL REFERENCES users(id),
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL))",
            R"(CREATE TABLE schedules (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                playlist_id INTEGER NOT NULL REFERENCES playlists(id),
                campaign_id INTEGER REFERENCES campaigns(id),
                priority INTEGER NOT NULL,
                starts_on TEXT NOT NULL,
                ends_on TEXT NOT NULL,
                dayparts_json TEXT NOT NULL,
                target_json TEXT NOT NULL,
                created_by INTEGER NOT NULL REFERENCES users(id),
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL))",
            R"(CREATE TABLE takeovers (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                playlist_id INTEGER NOT NULL REFERENCES playlists(id),
                target_json TEXT NOT NULL,
                starts_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                cancelled_at INTEGER,
                created_by INTEGER NOT NULL REFERENCES users(id),
                created_at INTEGER NOT NULL))",
            R"(CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL))",
            R"(CREATE TABLE compiled_manifests (
                player_id TEXT NOT NULL REFERENCES players(id),
                version INTEGER NOT NULL,
                content_hash TEXT NOT NULL,
                manifest TEXT NOT NULL,
                signature TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (player_id, version)))",
            "CREATE INDEX audit_log_at ON audit_log(at)",
            "CREATE INDEX media_state ON media(state)",
        },
        // 2: proof of play. pop_records, pop_checkpoints and pop_problems are
        // append-only evidence (no UPDATE or DELETE anywhere in the code); the
        // pop_rollup_* tables are derived and rebuildable (--rebuild-rollups).
        {
            R"(CREATE TABLE pop_records (
                player_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                hash TEXT NOT NULL,
                kind TEXT NOT NULL,
                media TEXT NOT NULL,
                playlist TEXT NOT NULL,
                schedule TEXT NOT NULL,
                campaign TEXT NOT NULL,
                start_utc_ms INTEGER NOT NULL,
                end_utc_ms INTEGER NOT NULL,
                measured_ms INTEGER NOT NULL,
                outcome TEXT NOT NULL,
                record TEXT NOT NULL,
                received_at INTEGER NOT NULL,
                PRIMARY KEY (player_id, seq)))",
            R"(CREATE TABLE pop_checkpoints (
                player_id TEXT NOT NULL,
                last_seq INTEGER NOT NULL,
                first_seq INTEGER NOT NULL,
                checkpoint TEXT NOT NULL,
                received_at INTEGER NOT NULL,
                PRIMARY KEY (player_id, last_seq)))",
            R"(CREATE TABLE pop_problems (
                id INTEGER PRIMARY KEY,
                player_id TEXT NOT NULL,
                code TEXT NOT NULL,
                seq INTEGER NOT NULL,
                message TEXT NOT NULL,
                batch_sha256 TEXT NOT NULL,
                batch BLOB,
                detected_at INTEGER NOT NULL,
                UNIQUE (player_id, code, seq, batch_sha256)))",
            R"(CREATE TABLE pop_rollup_media (
                player_id TEXT NOT NULL,
                local_date TEXT NOT NULL,
                media TEXT NOT NULL,
                playlist TEXT NOT NULL,
                campaign TEXT NOT NULL,
                completed INTEGER NOT NULL,
                interrupted INTEGER NOT NULL,
                failed INTEGER NOT NULL,
                on_screen_ms INTEGER NOT NULL,
                PRIMARY KEY (player_id, local_date, media, playlist, campaign)))",
            R"(CREATE TABLE pop_rollup_hour (
                player_id TEXT NOT NULL,
                local_date TEXT NOT NULL,
                hour INTEGER NOT NULL,
                completed INTEGER NOT NULL,
                interrupted INTEGER NOT NULL,
                failed INTEGER NOT NULL,
                on_screen_ms INTEGER NOT NULL,
                PRIMARY KEY (player_id, local_date, hour)))",
            R"(CREATE TABLE pop_rollup_campaign (
                campaign TEXT NOT NULL,
                location_id INTEGER NOT NULL,
                local_date TEXT NOT NULL,
                completed INTEGER NOT NULL,
                interrupted INTEGER NOT NULL,
                failed INTEGER NOT NULL,
                on_screen_ms INTEGER NOT NULL,
                PRIMARY KEY (campaign, location_id, local_date)))",
            "CREATE INDEX pop_rollup_media_date ON pop_rollup_media(local_date)",
            "CREATE INDEX pop_problems_player ON pop_problems(player_id, detected_at)",
        },
        // 3: the auditor's table (location x local date x media) as its own rollup,
        // so the count report reads about as many rows as it returns.
        {
            R"(CREATE TABLE pop_rollup_location (
                location_id INTEGER NOT NULL,
                local_date TEXT NOT NULL,
                media TEXT NOT NULL,
                completed INTEGER NOT NULL,
                interrupted INTEGER NOT NULL,
                failed INTEGER NOT NULL,
                on_screen_ms INTEGER NOT NULL,
                PRIMARY KEY (location_id, local_date, media)))",
            "INSERT INTO pop_rollup_location SELECT p.location_id, r.local_date, r.media, "
            "SUM(r.completed), "
            "SUM(r.interrupted), SUM(r.failed), SUM(r.on_screen_ms) FROM pop_rollup_media r "
            "JOIN (SELECT id, COALESCE(location_id, 0) AS location_id FROM players) p ON p.id = "
            "r.player_id "
            "GROUP BY 1, 2, 3",
        },
        // 4: the evidence tables refuse UPDATE and DELETE in the database itself.
        {
            "CREATE TRIGGER pop_records_no_update BEFORE UPDATE ON pop_records "
            "BEGIN SELECT RAISE(ABORT, 'pop_records is append-only evidence'); END",
            "CREATE TRIGGER pop_records_no_delete BEFORE DELETE ON pop_records "
            "BEGIN SELECT RAISE(ABORT, 'pop_records is append-only evidence'); END",
            "CREATE TRIGGER pop_checkpoints_no_update BEFORE UPDATE ON pop_checkpoints "
            "BEGIN SELECT RAISE(ABORT, 'pop_checkpoints is append-only evidence'); END",
            "CREATE TRIGGER pop_checkpoints_no_delete BEFORE DELETE ON pop_checkpoints "
            "BEGIN SELECT RAISE(ABORT, 'pop_checkpoints is append-only evidence'); END",
            "CREATE TRIGGER pop_problems_no_update BEFORE UPDATE ON pop_problems "
            "BEGIN SELECT RAISE(ABORT, 'pop_problems is append-only evidence'); END",
            "CREATE TRIGGER pop_problems_no_delete BEFORE DELETE ON pop_problems "
            "BEGIN SELECT RAISE(ABORT, 'pop_problems is append-only evidence'); END",
        },
        // 5: accounts and scoping (docs/controller-api.md "Accounts and sessions"): idle
        // session timeout, the per-user fleetWide right, and a department on schedules
        // and takeovers (existing ones take their editor's department, else their playlist's).
        {
            "ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0",
            "UPDATE sessions SET last_seen_at = created_at",
            "ALTER TABLE users ADD COLUMN fleet_wide INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE schedules ADD COLUMN department TEXT",
            "UPDATE schedules SET department = COALESCE((SELECT u.department FROM users u WHERE "
            "u.id = "
            "schedules.created_by AND u.role = 'editor'), (SELECT p.department FROM playlists p "
            "WHERE p.id = "
            "schedules.playlist_id))",
            "ALTER TABLE takeovers ADD COLUMN department TEXT",
            "UPDATE takeovers SET department = COALESCE((SELECT u.department FROM users u WHERE "
            "u.id = "
            "takeovers.created_by AND u.role = 'editor'), (SELECT p.department FROM playlists p "
            "WHERE p.id = "
            "takeovers.playlist_id))",
        },
        // 6: a rejected PROOFS batch's full size beside what is kept of it (the
        // whole batch, or its first 4 KiB once a player has used its hourly budget).
        {
            "ALTER TABLE pop_problems ADD COLUMN batch_size INTEGER",
        },
        // 7: the audit log hash-chained (docs/audit-export.md): each row's seq, the
        // hash of the row before and its own hash. Rows written before are chained
        // at start-up (repo::chainAuditLog, the one UPDATE allowed: hash still
        // NULL); after that no row is changed or deleted.
        {
            "ALTER TABLE audit_log ADD COLUMN seq INTEGER",
            "ALTER TABLE audit_log ADD COLUMN prev_hash TEXT",
            "ALTER TABLE audit_log ADD COLUMN hash TEXT",
            "CREATE UNIQUE INDEX audit_log_seq ON audit_log(seq)",
            "CREATE INDEX audit_log_unchained ON audit_log(id) WHERE hash IS NULL",
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log WHEN OLD.hash IS NOT "
            "NULL "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        },
        // 8: the legal-education days the office plans campaigns around (普法节点),
        // an admin-edited list; a campaign is suggested from days_before before the
        // day to days_after after it.
        {
            R"(CREATE TABLE observances (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                month INTEGER NOT NULL CHECK (month BETWEEN 1 AND 12),
                day INTEGER NOT NULL CHECK (day BETWEEN 1 AND 31),
                theme TEXT,
                days_before INTEGER NOT NULL DEFAULT 3,
                days_after INTEGER NOT NULL DEFAULT 3,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL))",
            R"(INSERT INTO observances(name, month, day, theme, days_before, days_after, created_at, updated_at) VALUES
                ('中国人民警察节', 1, 10, '法治教育', 3, 3, 0, 0),
                ('国际消费者权益日', 3, 15, '反诈防骗', 3, 3, 0, 0),
                ('全民国家安全教育日', 4, 15, '国家安全', 3, 3, 0, 0),
                ('全国防灾减灾日', 5, 12, '法治教育', 3, 3, 0, 0),
                ('安全生产月', 6, 1, '法治教育', 0, 29, 0, 0),
                ('高考护航', 6, 7, '反诈防骗', 3, 3, 0, 0),
                ('国际禁毒日', 6, 26, '禁毒', 3, 3, 0, 0),
                ('开学第一课', 9, 1, '法治教育', 3, 3, 0, 0),
                ('全国消防日', 11, 9, '法治教育', 3, 3, 0, 0),
                ('全国交通安全日', 12, 2, '文明交通', 3, 3, 0, 0),
                ('国家宪法日', 12, 4, '法治教育', 3, 3, 0, 0))",
        },
        // 9: where each play was, under the screen's signature: a play record of
        // format 2 names the SHA-256 of the manifest in force (its location and
        // zone); the evidence export carries those manifests, found by their
        // hash (NULL for manifests compiled before: hashed when an export needs them).
        {
            "ALTER TABLE pop_records ADD COLUMN manifest TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE compiled_manifests ADD COLUMN sha256 TEXT",
            "CREATE INDEX compiled_manifests_sha256 ON compiled_manifests(player_id, sha256)",
        },
        // 10: the scheduled numbers of a screen's local day that has ended (the
        // manifest it held that day never changes): evaluated once, derived,
        // rebuildable (delete the rows), used by scheduled-vs-played and the yearly report.
        {
            R"(CREATE TABLE scheduled_days (
                player_id TEXT NOT NULL,
                local_date TEXT NOT NULL,
                manifest_version INTEGER NOT NULL,
                slots INTEGER NOT NULL,
                slot_ms INTEGER NOT NULL,
                PRIMARY KEY (player_id, local_date)))",
        },
        // 11: recalls with proof: the recall, each screen that had the media with
        // the first manifest version without it and when the screen confirmed it;
        // media that recall themselves after valid_until; plays found by media.
        {
            "ALTER TABLE media ADD COLUMN valid_until INTEGER",
            R"(CREATE TABLE recalls (
                id INTEGER PRIMARY KEY,
                media_id INTEGER NOT NULL REFERENCES media(id),
                media_sha256 TEXT NOT NULL,
                reason TEXT NOT NULL,
                recalled_at INTEGER NOT NULL,
                recalled_by INTEGER REFERENCES users(id),
                actor TEXT NOT NULL,
                automatic INTEGER NOT NULL DEFAULT 0,
                completed_at INTEGER))",
            "CREATE INDEX recalls_media ON recalls(media_id)",
            R"(CREATE TABLE recall_screens (
                recall_id INTEGER NOT NULL REFERENCES recalls(id),
                player_id TEXT NOT NULL REFERENCES players(id),
                version INTEGER,
                manifest_sha256 TEXT NOT NULL DEFAULT '',
                confirmed_at INTEGER,
                PRIMARY KEY (recall_id, player_id)))",
            "CREATE INDEX pop_records_media ON pop_records(media, player_id, start_utc_ms) WHERE kind = 'play'",
        },
        // 12: CAP 1.2 alerts (docs/controller-api.md "Alerts"): the alert_feed role (the
        // users table rebuilt for its CHECK; Db::migrate runs migrations with foreign
        // keys off and checks them before committing), each location's
        // administrative division code, and every CAP message taken, kept whole.
        {
            R"(CREATE TABLE users_new (
                id INTEGER PRIMARY KEY,
                username TEXT NOT NULL UNIQUE,
                display_name TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('admin','editor','approver','auditor','alert_feed')),
                department TEXT,
                password_hash TEXT NOT NULL,
                disabled INTEGER NOT NULL DEFAULT 0,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                fleet_wide INTEGER NOT NULL DEFAULT 0))",
            "INSERT INTO users_new(id, username, display_name, role, department, password_hash, disabled, "
            "created_at, updated_at, fleet_wide) SELECT id, username, display_name, role, department, "
            "password_hash, disabled, created_at, updated_at, fleet_wide FROM users",
            "DROP TABLE users",
            "ALTER TABLE users_new RENAME TO users",
            "ALTER TABLE locations ADD COLUMN admin_code TEXT NOT NULL DEFAULT ''",
            R"(CREATE TABLE alerts (
                id INTEGER PRIMARY KEY,
                sender TEXT NOT NULL,
                identifier TEXT NOT NULL,
                sent TEXT NOT NULL,
                sent_at INTEGER NOT NULL,
                msg_type TEXT NOT NULL CHECK (msg_type IN ('Alert','Update','Cancel')),
                refs TEXT NOT NULL DEFAULT '',
                language TEXT NOT NULL DEFAULT '',
                event TEXT NOT NULL DEFAULT '',
                severity TEXT NOT NULL DEFAULT '',
                headline TEXT NOT NULL DEFAULT '',
                text TEXT NOT NULL DEFAULT '',
                expires_at INTEGER,
                areas_json TEXT NOT NULL DEFAULT '[]',
                location_ids_json TEXT NOT NULL DEFAULT '[]',
                takeover_id INTEGER REFERENCES takeovers(id),
                media_id INTEGER REFERENCES media(id),
                signature TEXT NOT NULL CHECK (signature IN ('verified','unverified','unsigned')),
                source TEXT NOT NULL CHECK (source IN ('api','feed')),
                received_by INTEGER NOT NULL REFERENCES users(id),
                received_at INTEGER NOT NULL,
                xml TEXT NOT NULL,
                UNIQUE (sender, identifier, sent)))",
            "CREATE INDEX alerts_takeover ON alerts(takeover_id)",
            "CREATE INDEX alerts_received ON alerts(received_at)",
        },
        // 13: normalisation at upload and renditions per screen size (docs/controller-api.md
        // "What happens to an upload"): files derived from an original, each recording
        // what was done; the codec of a clip; the colour transparency was flattened over.
        {
            "ALTER TABLE media ADD COLUMN codec TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE media ADD COLUMN background TEXT NOT NULL DEFAULT ''",
            R"(CREATE TABLE media_derived (
                id INTEGER PRIMARY KEY,
                media_id INTEGER NOT NULL REFERENCES media(id),
                purpose TEXT NOT NULL CHECK (purpose IN ('normalised','rendition')),
                box_width INTEGER NOT NULL DEFAULT 0,
                box_height INTEGER NOT NULL DEFAULT 0,
                state TEXT NOT NULL CHECK (state IN ('pending','working','ready','failed')),
                sha256 TEXT NOT NULL DEFAULT '',
                kind TEXT NOT NULL DEFAULT '',
                mime TEXT NOT NULL DEFAULT '',
                size_bytes INTEGER NOT NULL DEFAULT 0,
                duration_ms INTEGER,
                width INTEGER,
                height INTEGER,
                transform TEXT NOT NULL DEFAULT '',
                error TEXT NOT NULL DEFAULT '',
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                UNIQUE (media_id, purpose, box_width, box_height)))",
            "CREATE INDEX media_derived_sha ON media_derived(sha256)",
        },
        // 14: media mirrors (docs/controller-api.md "Mirrors"): HTTP base URLs a
        // location, a district or (settings key 'mirrors') the whole fleet fetches media from.
        {
            "ALTER TABLE locations ADD COLUMN mirrors_json TEXT NOT NULL DEFAULT '[]'",
            R"(CREATE TABLE district_mirrors (
                district TEXT PRIMARY KEY,
                mirrors_json TEXT NOT NULL))",
        },
        // 15: commands to screens and their answers, for several controller nodes
        // (docs/store.md "Between nodes"): a command made on one node is delivered
        // by the node the screen is connected to (claimed), whose hub stores the answer.
        {
            R"(CREATE TABLE commands (
                id TEXT PRIMARY KEY,
                player_id TEXT NOT NULL,
                action TEXT NOT NULL,
                sent_at INTEGER NOT NULL,
                claimed INTEGER NOT NULL DEFAULT 0,
                acked_at INTEGER,
                ok INTEGER NOT NULL DEFAULT 0,
                message TEXT NOT NULL DEFAULT '',
                payload BLOB))",
            "CREATE INDEX commands_sent ON commands(sent_at)",
        },
        // 16: a video play's frame counts (record format 3, docs/proof-of-play.md
        // "Frames") and degraded plays counted apart from completed ones.
        {
            "ALTER TABLE pop_records ADD COLUMN frames INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE pop_records ADD COLUMN frames_late INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE pop_records ADD COLUMN frames_dropped INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE pop_records ADD COLUMN longest_freeze_ms INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE pop_rollup_media ADD COLUMN degraded INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE pop_rollup_hour ADD COLUMN degraded INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE pop_rollup_campaign ADD COLUMN degraded INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE pop_rollup_location ADD COLUMN degraded INTEGER NOT NULL DEFAULT 0",
        },
    };
    return kMigrations;
}

}  // namespace microscape::controller
