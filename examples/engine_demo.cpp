// mentorsync-engine-demo: the sync engine told as a story a programme coordinator can follow.
//
// Mentor Ilze's tablet keeps an encrypted replica and logs a day of work offline. Mentor Jānis's
// tablet receives her records; then both edit the same field of the same contact while offline.
// They sync both ways, end up with identical records, keep the overwritten text for review, and
// clear it once Ilze has resolved it. Finally the database files are searched byte by byte for
// every name and note written: none may appear, because everything personal is stored encrypted.
//
// Everyone and everything in it is invented. It uses only the public engine API.
//
// Usage: mentorsync-engine-demo DIR   (DIR: a new or empty directory for the two replica files)
// Exit status: 0 when the story runs to the end and the privacy check passes, 1 when the engine
// reports an error or a name or note is found on disk, 2 for a usage error.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mentorsync/replica.h"

namespace fs = std::filesystem;
namespace ms = mentorsync;

namespace {

constexpr std::string_view kUsage =
    "Usage: mentorsync-engine-demo DIR\n"
    "\n"
    "Runs the MentorSync engine demo: two mentors' tablets work offline, sync with each other,\n"
    "resolve a conflicting edit, and the database files are checked for readable names and\n"
    "notes. DIR is a new or empty directory; the demo writes two replica files into it.\n"
    "All people and records in the demo are invented.\n"
    "\n"
    "Exit status: 0 success, 1 an engine error or a failed privacy check, 2 a usage error.\n";

// Any failure ends the story with one plain sentence (see main()).
struct DemoFailure {
    std::string message;
};

void check(const ms::Status& status, const std::string& doing) {
    if (!status.ok()) throw DemoFailure{"could not " + doing + ": " + status.to_string()};
}

template <typename T>
T check(ms::Result<T> result, const std::string& doing) {
    check(result.status(), doing);
    return std::move(result).value();
}

void expect(bool condition, const std::string& what) {
    if (!condition) throw DemoFailure{"unexpected engine behaviour: " + what};
}

// --- time: the tablets' clocks run on a simulated school day, shown in Riga time -------------

// Latvia's rule as a POSIX TZ string, so no time-zone database is needed.
void use_riga_time() {
    setenv("TZ", "EET-2EEST,M3.5.0/3,M10.5.0/4", 1);
    tzset();
}

std::int64_t riga_ms(int year, int month, int day, int hour, int minute) {
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_isdst = -1;
    return static_cast<std::int64_t>(std::mktime(&tm)) * 1000;
}

std::string strftime_ms(std::int64_t ms, const char* format) {
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[64];
    std::size_t n = std::strftime(buf, sizeof buf, format, &tm);
    return std::string(buf, n);
}

// "Tue 10 Nov" for a time in ms.
std::string day_of(std::int64_t ms) {
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    localtime_r(&t, &tm);
    return strftime_ms(ms, "%a ") + std::to_string(tm.tm_mday) + strftime_ms(ms, " %b");
}

// "Tue 10 Nov" for "2026-11-10" (and "Tue 10 Nov 08:30" for "2026-11-10T08:30").
std::string pretty_date(const std::string& iso) {
    if (iso.size() < 10) return iso;
    int y = std::stoi(iso.substr(0, 4)), m = std::stoi(iso.substr(5, 2));
    int d = std::stoi(iso.substr(8, 2));
    std::string out = day_of(riga_ms(y, m, d, 12, 0));
    if (iso.size() >= 16) out += " " + iso.substr(11, 5);
    return out;
}

// --- text --------------------------------------------------------------------------------------

// Width in characters of UTF-8 text (so "Ģirts Ūdrēns" lines up with ASCII names).
std::size_t columns(std::string_view s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string pad(std::string s, std::size_t width) {
    if (std::size_t n = columns(s); n < width) s.append(width - n, ' ');
    return s;
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// Word-wraps `s` to `width` columns; lines after the first start with `indent` spaces.
std::string wrap(const std::string& s, std::size_t first_column, std::size_t indent,
                 std::size_t width = 96) {
    std::string out, word;
    std::size_t column = first_column;
    auto flush = [&] {
        std::size_t n = columns(word);
        if (!out.empty() && column + 1 + n > width) {
            out += "\n" + std::string(indent, ' ');
            column = indent;
        } else if (!out.empty()) {
            out += ' ';
            ++column;
        }
        out += word;
        column += n;
        word.clear();
    };
    for (char c : s) {
        if (c == ' ') {
            if (!word.empty()) flush();
        } else {
            word += c;
        }
    }
    if (!word.empty()) flush();
    return out;
}

// "57 344 bytes", right-aligned.
std::string bytes_text(std::uintmax_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ' ';
        out += digits[i];
    }
    out += " bytes";
    return std::string(out.size() < 14 ? 14 - out.size() : 0, ' ') + out;
}

std::string seconds(std::chrono::steady_clock::duration d) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    std::string s =
        std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 10 + 100).substr(1);
    return s + " s";
}

// A field as plain text: strings without quotes, lists joined with commas, "-" when absent.
std::string text(const ms::Record& record, std::string_view field) {
    auto it = record.fields.find(field);
    if (it == record.fields.end()) return "-";
    const ms::Value& v = it->second;
    if (v.is_string()) return v.as_string();
    if (v.is_list()) {
        std::string out;
        for (const auto& item : v.as_list())
            out += (out.empty() ? "" : ", ") +
                   (item.is_string() ? item.as_string() : item.to_display());
        return out;
    }
    return v.to_display();
}

std::int64_t number(const ms::Record& record, std::string_view field) {
    auto it = record.fields.find(field);
    return it != record.fields.end() && it->second.is_int() ? it->second.as_int() : 0;
}

ms::Value::List list(std::initializer_list<const char*> items) {
    ms::Value::List out;
    for (const char* item : items)
        out.emplace_back(item);
    return out;
}

bool identical(const ms::Record& a, const ms::Record& b) {
    return a.collection == b.collection && a.id == b.id && a.fields == b.fields &&
           a.stamps == b.stamps && a.deleted == b.deleted && a.updated == b.updated;
}

bool same_conflicts(const std::vector<ms::Conflict>& a, const std::vector<ms::Conflict>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return x.collection == y.collection && x.row == y.row && x.field == y.field &&
               x.winner_value == y.winner_value && x.winner == y.winner &&
               x.loser_value == y.loser_value && x.loser == y.loser;
    });
}

void heading(int number, std::string_view title) {
    std::cout << "\n" << number << ". " << title << "\n";
}

// --- the story -------------------------------------------------------------------------------

struct Tablet {
    std::string owner;  // "Ilze"
    fs::path path;
    std::unique_ptr<ms::Replica> replica;

    std::string name() const { return owner + "'s tablet"; }
    ms::Replica& operator*() const { return *replica; }
    ms::Replica* operator->() const { return replica.get(); }
};

struct Learner {
    std::string name;
    int birth_year;
    int grade;
    ms::Uuid id;
};

class Story {
  public:
    explicit Story(fs::path dir) : dir_(std::move(dir)) {}

    bool run() {
        std::cout << "MentorSync engine demo: two mentors' tablets, offline, then in sync\n"
                  << "Data directory: " << dir_.string() << "\n"
                  << "Everyone and everything below is invented.\n";
        create_ilzes_tablet();
        log_a_day_offline();
        show_elizas_month();
        second_tablet_and_concurrent_edits();
        sync_both_ways_and_resolve();
        return privacy_check();
    }

  private:
    // Every name and note written, for the privacy check at the end.
    const std::string& secret(const std::string& s) {
        if (std::find(secrets_.begin(), secrets_.end(), s) == secrets_.end()) secrets_.push_back(s);
        return s;
    }

    std::string who(const ms::Stamp& stamp) const {
        for (const Tablet* t : {&ilze_, &janis_})
            if (t->replica && t->replica->node() == stamp.node) return t->name();
        return "tablet " + short_id(stamp.node);
    }
    static std::string short_id(const ms::Uuid& id) { return id.to_string().substr(0, 8) + "…"; }
    static std::string at(const ms::Stamp& stamp) {
        return day_of(static_cast<std::int64_t>(stamp.millis())) +
               strftime_ms(static_cast<std::int64_t>(stamp.millis()), " %H:%M");
    }
    void clock_at(int day, int hour, int minute) {
        clock_->set(riga_ms(2026, 11, day, hour, minute));
    }

    std::unique_ptr<ms::Replica> open(const fs::path& path, const std::string& passphrase,
                                      std::chrono::steady_clock::duration& took) {
        ms::OpenOptions options;
        options.path = path.string();
        options.clock = clock_;  // production KDF and full durability: the defaults
        auto start = std::chrono::steady_clock::now();
        auto replica = check(ms::Replica::open(options, ms::UnlockKey::passphrase(passphrase)),
                             "create " + path.filename().string());
        took = std::chrono::steady_clock::now() - start;
        return replica;
    }

    std::size_t pending(const Tablet& t) const {
        return check(t->status(), "read the status of " + t.name()).pending_transactions;
    }

    // Hands `from`'s unsent transactions to `to`, as a sync server would, and marks them sent.
    std::pair<std::vector<ms::Transaction>, ms::ApplyReport> hand_over(Tablet& from, Tablet& to) {
        auto txns = check(from->pending(1000), "read the changes waiting on " + from.name());
        auto report =
            check(to->apply_remote(txns), "apply " + from.owner + "'s changes on " + to.name());
        expect(report.rejected.empty(),
               to.name() + " rejected " + from.owner + "'s changes: " +
                   (report.rejected.empty() ? "" : report.rejected[0].reason.to_string()));
        expect(report.quarantined == 0, to.name() + " quarantined " + from.owner + "'s changes");
        std::vector<ms::Stamp> stamps;
        for (const auto& t : txns)
            stamps.push_back(t.stamp);
        check(from->acknowledge(stamps), "mark " + from.owner + "'s changes as delivered");
        return {std::move(txns), report};
    }

    // 1 -------------------------------------------------------------------------------------
    void create_ilzes_tablet() {
        heading(1, "Ilze's tablet gets an encrypted replica");
        const std::string passphrase = "ozols-lietus-47-demo";
        std::chrono::steady_clock::duration created{}, unlocked{};
        ilze_.replica = open(ilze_.path, passphrase, created);
        auto kdf = ms::KdfParams::production();

        ilze_->lock();
        ms::Status wrong = ilze_->unlock(ms::UnlockKey::passphrase("ozols-lietus-48-demo"));
        expect(wrong.code() == ms::Code::wrong_key && ilze_->is_locked(),
               "a wrong passphrase was not refused (" + wrong.to_string() + ")");
        auto start = std::chrono::steady_clock::now();
        check(ilze_->unlock(ms::UnlockKey::passphrase(passphrase)), "unlock Ilze's tablet");
        unlocked = std::chrono::steady_clock::now() - start;

        std::cout << "   Created " << ilze_.path.filename().string()
                  << ", locked with Ilze's passphrase (Argon2id, " << kdf.opslimit
                  << " passes over " << (kdf.memlimit >> 20) << " MiB).\n"
                  << "   Unlocking took " << seconds(unlocked) << " (" << seconds(created)
                  << " to create it): slow on purpose, so that guessing is slow too.\n"
                  << "   A wrong passphrase is refused (" << ms::code_name(wrong.code())
                  << ") and the data stays locked.\n"
                  << "   Tablet id " << short_id(ilze_->node())
                  << ": each change is stamped with it and the time it was made.\n";
    }

    // 2 -------------------------------------------------------------------------------------
    void log_a_day_offline() {
        heading(2, "Tuesday 10 November 2026: Ilze's day, offline");
        std::cout << "   (The tablets' clocks are set to this day, so the story is the same on "
                     "every run.)\n";
        const std::string school = ms::Uuid::random().to_string();
        const std::string municipality = ms::Uuid::random().to_string();
        const std::string centre = ms::Uuid::random().to_string();
        ilze_user_ = ms::Uuid::random().to_string();

        // The caseload: each learner and their case (assignment) in one transaction.
        clock_at(10, 8, 5);
        learners_ = {{"Elīza Ķērpīte", 2012, 8, {}},
                     {"Ģirts Ūdrēns", 2011, 9, {}},
                     {"Mārtiņš Žagatiņš", 2011, 9, {}}};
        std::string caseload;
        for (auto& l : learners_) {
            ms::WriteBatch batch;
            l.id = batch.create("learners", {{"name", secret(l.name)},
                                             {"birth_year", l.birth_year},
                                             {"school_id", school},
                                             {"municipality_id", municipality},
                                             {"grade", l.grade},
                                             {"education", "general"}});
            batch.create("assignments", {{"learner_id", l.id.to_string()},
                                         {"mentor_id", ilze_user_},
                                         {"centre_id", centre},
                                         {"status", "open"},
                                         {"start_date", "2026-09-14"}});
            check(ilze_->commit(batch), "record " + l.name + "'s case");
            caseload += (caseload.empty() ? "" : ", ") + l.name + " (grade " +
                        std::to_string(l.grade) + ")";
        }
        std::cout << "   08:05  caseload: " << caseload << "\n"
                  << "          each with an open case assigned to Ilze (one transaction each)\n";

        struct Visit {
            int learner, hour, minute, minutes;
            const char* place;
            ms::Value::List topics;
            std::string notes, next_steps, follow_up;
            bool risk;
        };
        const std::vector<Visit> visits = {
            {0, 8, 30, 30, "school", list({"attendance", "learning"}),
             "Elīza missed Monday's maths test; she says she overslept after minding her little "
             "brother.",
             "Ask the class teacher for a re-take date.", "", false},
            {1, 10, 15, 45, "youth_centre", list({"friends", "wellbeing"}),
             "Ģirts was quiet and left early; a falling-out with two classmates in a group chat "
             "goes on.",
             "Meet again on Thursday with the social pedagogue.", "2026-11-12", true},
            {2, 13, 0, 15, "phone", list({"career"}),
             "Short call: Mārtiņš wants to try the carpentry taster day at the vocational school.",
             "", "", false},
            {0, 16, 30, 60, "home", list({"family", "attendance"}),
             "Home visit: her mother works night shifts at the bakery; we agreed a morning routine "
             "with two alarms.",
             "Check Elīza's attendance on Friday.", "", false},
        };
        for (const auto& v : visits) {
            const Learner& l = learners_[v.learner];
            char starts[32];
            std::snprintf(starts, sizeof starts, "2026-11-10T%02d:%02d", v.hour, v.minute);
            ms::Fields f = {{"learner_id", l.id.to_string()},
                            {"mentor_id", ilze_user_},
                            {"starts_at", starts},
                            {"duration_min", v.minutes},
                            {"place", v.place},
                            {"form", "individual"},
                            {"topics", v.topics},
                            {"notes", secret(v.notes)}};
            if (!v.next_steps.empty()) f["next_steps"] = secret(v.next_steps);
            if (!v.follow_up.empty()) f["follow_up"] = v.follow_up;
            if (v.risk) f["risk_flag"] = true;
            clock_at(10, v.hour, v.minute + v.minutes / 2);  // logged during or just after it
            ms::Uuid id =
                check(ilze_->create("contacts", std::move(f)), "record the contact with " + l.name);
            if (v.place == std::string_view("home")) {
                home_visit_ = id;
                home_visit_notes_ = v.notes;
            }

            std::string place =
                v.place == std::string_view("youth_centre") ? "youth centre" : v.place;
            std::string topics;
            for (const auto& t : v.topics)
                topics += (topics.empty() ? "" : ", ") + t.as_string();
            std::cout << "   " << std::string(starts).substr(11) << "  " << pad(place, 14)
                      << pad(std::to_string(v.minutes) + " min", 8) << pad(l.name, 18) << topics
                      << (v.risk ? "  (risk flagged)" : "") << "\n";
        }

        // The school's absence list for the last weeks, entered as one transaction.
        struct Absence {
            int learner;
            const char *date, *status, *justification;
            int lessons;
            const char* parents_contacted;
        };
        const std::vector<Absence> absences = {
            {0, "2026-10-22", "justified", "parent_note", 2, ""},
            {0, "2026-11-02", "unjustified", "", 3, ""},
            {0, "2026-11-09", "unjustified", "", 6, "2026-11-10"},
            {1, "2026-11-06", "justified", "doctor", 2, ""},
            {2, "2026-11-04", "unjustified", "", 7, "2026-11-05"},
        };
        ms::WriteBatch batch;
        int lessons = 0, unjustified = 0;
        for (const auto& a : absences) {
            ms::Fields f = {{"learner_id", learners_[a.learner].id.to_string()},
                            {"date", a.date},
                            {"lessons", a.lessons},
                            {"status", a.status},
                            {"source", "school"}};
            if (*a.justification) f["justification"] = a.justification;
            if (*a.parents_contacted) f["parents_contacted"] = a.parents_contacted;
            batch.create("absences", std::move(f));
            lessons += a.lessons;
            if (a.status == std::string_view("unjustified")) unjustified += a.lessons;
        }
        clock_at(10, 17, 10);
        check(ilze_->commit(batch), "record the absences");
        std::cout << "   17:10  " << absences.size()
                  << " absences from the school's list, one transaction: " << lessons
                  << " lessons, " << unjustified << " of them unjustified\n"
                  << "   No network all day: "
                  << plural(pending(ilze_), "transaction", "transactions")
                  << " wait on the tablet to be synced.\n";
    }

    // 3 -------------------------------------------------------------------------------------
    void show_elizas_month() {
        const Learner& eliza = learners_[0];
        auto learner = check(ilze_->get("learners", eliza.id), "read " + eliza.name);
        heading(3, "What Ilze's tablet shows for " + text(learner, "name") + ", 1-30 November");
        std::cout << "   (two queries, her contacts and her absences, by learner and date range)\n";

        ms::Query q;
        q.collection = "contacts";
        q.ref = eliza.id;
        q.from_date = "2026-11-01";
        q.to_date = "2026-11-30";
        auto contacts = check(ilze_->query(q), "query " + eliza.name + "'s contacts");
        std::cout << "   Contacts: " << contacts.size() << "\n";
        for (const auto& c : contacts) {
            std::string head = "     " + pretty_date(text(c, "starts_at")) + "  " +
                               text(c, "place") + ", " + std::to_string(number(c, "duration_min")) +
                               " min: ";
            std::cout << head << wrap(text(c, "notes"), columns(head), 7) << "\n";
            if (c.fields.count("next_steps"))
                std::cout << "       Next steps: " << text(c, "next_steps") << "\n";
        }

        q.collection = "absences";
        auto absences = check(ilze_->query(q), "query " + eliza.name + "'s absences");
        std::cout << "   Absences: " << absences.size() << "\n";
        std::int64_t unjustified = 0;
        for (const auto& a : absences) {
            std::cout << "     " << pad(pretty_date(text(a, "date")), 11)
                      << pad(plural(static_cast<std::size_t>(number(a, "lessons")), "lesson",
                                    "lessons"),
                             11)
                      << text(a, "status");
            if (a.fields.count("parents_contacted"))
                std::cout << ", parents contacted " << pretty_date(text(a, "parents_contacted"));
            std::cout << "\n";
            if (text(a, "status") == "unjustified") unjustified += number(a, "lessons");
        }
        std::cout << "   " << unjustified
                  << " unjustified lessons this month (over 20 in a semester must be escalated "
                     "to the municipality).\n"
                  << "   Her justified absence on Thu 22 Oct is outside the range, so it is not "
                     "listed.\n";
        expect(contacts.size() == 2 && absences.size() == 2,
               "the November query returned " + std::to_string(contacts.size()) + " contacts and " +
                   std::to_string(absences.size()) + " absences (expected 2 and 2)");
    }

    // 4 -------------------------------------------------------------------------------------
    void second_tablet_and_concurrent_edits() {
        heading(4, "Jānis's tablet joins, then both tablets edit the same record offline");
        clock_at(10, 17, 30);
        std::chrono::steady_clock::duration took{};
        janis_.replica = open(janis_.path, "priede-sniegs-19-demo", took);
        std::cout << "   17:30  Created " << janis_.path.filename().string()
                  << " with Jānis's own passphrase (unlocking took " << seconds(took) << ").\n";

        auto [txns, report] = hand_over(ilze_, janis_);
        auto again = check(janis_->apply_remote(txns), "apply Ilze's changes a second time");
        auto records = check(janis_->status(), "read the status of Jānis's tablet").records;
        std::cout << "          At the centre Ilze's "
                  << plural(txns.size(), "transaction", "transactions")
                  << " reach Jānis's tablet: " << report.applied << " applied (" << records
                  << " records in all).\n"
                  << "          (In the real system a sync server carries them; here the demo "
                     "hands them over.)\n"
                  << "          Ilze's tablet marks them delivered: " << pending(ilze_)
                  << " left waiting.\n"
                  << "          Handing them over a second time changes nothing: "
                  << again.duplicates << " duplicates, " << again.applied << " applied.\n";
        expect(
            report.applied == txns.size() && again.duplicates == txns.size() && again.applied == 0,
            "syncing Ilze's changes to Jānis's tablet applied " + std::to_string(report.applied) +
                " of " + std::to_string(txns.size()) + ", then " +
                std::to_string(again.duplicates) + " duplicates on repeat");

        std::cout << "   Both tablets go offline. Both change the home visit's \"next steps\":\n";
        clock_at(10, 17, 40);
        ilze_text_ = secret("Check attendance on Friday; call her mother on Monday evening.");
        check(ilze_->update("contacts", home_visit_,
                            {{"next_steps", ilze_text_}, {"follow_up", "2026-11-16"}}),
              "edit the home visit on Ilze's tablet");
        std::cout << "     17:40 Ilze:  \"" << ilze_text_ << "\"\n"
                  << "                  (she also sets a follow-up date, Mon 16 Nov)\n";

        clock_at(10, 17, 52);
        janis_text_ = secret("Mother wants to meet the class teacher next week.");
        check(janis_->update("contacts", home_visit_, {{"next_steps", janis_text_}}),
              "edit the home visit on Jānis's tablet");
        std::cout << "     17:52 Jānis: \"" << janis_text_ << "\"\n"
                  << "                  (after a call from Elīza's mother to the centre)\n";
    }

    // 5 -------------------------------------------------------------------------------------
    void print_home_visit(const Tablet& t, const ms::Record& r) {
        // "Jānis, 17:52": whose edit a field's value is, and when it was made.
        auto stamp_of = [&](std::string_view field) {
            auto it = r.stamps.find(field);
            if (it == r.stamps.end()) return std::string("?");
            std::string by = who(it->second);
            return by.substr(0, by.find('\'')) + ", " +
                   strftime_ms(static_cast<std::int64_t>(it->second.millis()), "%H:%M");
        };
        std::cout << "     " << pad(t.name() + ":", 16) << "next steps \"" << text(r, "next_steps")
                  << "\" (" << stamp_of("next_steps") << ")\n"
                  << "     " << pad("", 16) << "follow-up " << pretty_date(text(r, "follow_up"))
                  << " (" << stamp_of("follow_up") << "), duration " << number(r, "duration_min")
                  << " min, "
                  << (text(r, "notes") == home_visit_notes_ ? "notes as Ilze wrote them"
                                                            : "NOTES CHANGED")
                  << "\n";
    }

    void sync_both_ways_and_resolve() {
        heading(5, "Back at the centre: each tablet takes the other's changes");
        clock_at(10, 18, 0);
        auto [from_janis, at_ilze] = hand_over(janis_, ilze_);
        auto [from_ilze, at_janis] = hand_over(ilze_, janis_);
        std::cout << "   Ilze's tablet takes Jānis's "
                  << plural(from_janis.size(), "transaction", "transactions") << ": "
                  << at_ilze.applied << " applied, "
                  << plural(at_ilze.conflicts_opened, "conflict", "conflicts")
                  << " kept for review\n"
                  << "   Jānis's tablet takes Ilze's "
                  << plural(from_ilze.size(), "transaction", "transactions") << ": "
                  << at_janis.applied << " applied, "
                  << plural(at_janis.conflicts_opened, "conflict", "conflicts")
                  << " kept for review\n";

        auto a = check(ilze_->get("contacts", home_visit_), "read the home visit on Ilze's tablet");
        auto b =
            check(janis_->get("contacts", home_visit_), "read the home visit on Jānis's tablet");
        std::cout << "   The home visit record, as each tablet shows it:\n";
        print_home_visit(ilze_, a);
        print_home_visit(janis_, b);
        bool same = identical(a, b);
        std::cout << "   Identical on both tablets (every field, value and stamp): "
                  << (same ? "yes" : "NO") << "\n";
        expect(same, "the two tablets hold different versions of the home visit");

        auto ca = check(ilze_->conflicts(), "list conflicts on Ilze's tablet");
        auto cb = check(janis_->conflicts(), "list conflicts on Jānis's tablet");
        expect(ca.size() == 1,
               "expected 1 conflict on Ilze's tablet, found " + std::to_string(ca.size()));
        expect(same_conflicts(ca, cb), "the tablets keep different conflicts");
        const ms::Conflict& c = ca.front();
        std::cout << "   Kept for review on both tablets (the same conflict on each):\n"
                  << "     " << c.collection << "." << c.field
                  << " of Elīza's home visit: the later edit is current, the other is kept\n"
                  << "       current: " << c.winner_value.to_display() << "\n"
                  << "                by " << who(c.winner) << " (" << short_id(c.winner.node)
                  << ") at " << at(c.winner) << "\n"
                  << "       losing:  " << c.loser_value.to_display() << "\n"
                  << "                by " << who(c.loser) << " (" << short_id(c.loser.node)
                  << ") at " << at(c.loser) << "\n";

        clock_at(11, 8, 10);
        const std::string merged =
            secret("Check attendance on Friday; meet her mother and the class teacher next week.");
        check(ilze_->resolve_conflict(c.row, c.field, c.loser, ms::Resolution::custom, merged),
              "resolve the conflict on Ilze's tablet");
        std::cout << "   Wed 11 Nov 08:10: Ilze reviews it and writes one text combining both:\n"
                  << "     \"" << merged << "\"\n";

        clock_at(11, 8, 15);
        auto [resolution, report] = hand_over(ilze_, janis_);
        ca = check(ilze_->conflicts(), "list conflicts on Ilze's tablet");
        cb = check(janis_->conflicts(), "list conflicts on Jānis's tablet");
        a = check(ilze_->get("contacts", home_visit_), "read the home visit on Ilze's tablet");
        b = check(janis_->get("contacts", home_visit_), "read the home visit on Jānis's tablet");
        same = identical(a, b) && text(a, "next_steps") == merged;
        std::cout << "   After the next sync ("
                  << plural(resolution.size(), "transaction", "transactions")
                  << "): open conflicts on Ilze's tablet " << ca.size() << ", on Jānis's "
                  << cb.size() << ";\n"
                  << "   both show Ilze's combined text, identical on both tablets: "
                  << (same ? "yes" : "NO") << "\n";
        expect(ca.empty() && cb.empty(), "a resolved conflict is still open");
        expect(same, "after resolving, the tablets differ");
    }

    // 6 -------------------------------------------------------------------------------------
    struct Finding {
        std::string secret;
        std::size_t offset;
    };

    std::vector<Finding> search(const fs::path& file, std::uintmax_t& size) const {
        std::ifstream in(file, std::ios::binary);
        if (!in) throw DemoFailure{"could not read " + file.string()};
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        size = bytes.size();
        std::vector<Finding> found;
        for (const auto& s : secrets_)
            if (auto pos = bytes.find(s); pos != std::string::npos) found.push_back({s, pos});
        return found;
    }

    // Searches every file in the data directory, one line per file (the replicas' .db, -wal and
    // -shm first). Returns whether every file is clean.
    bool search_all() const {
        std::vector<fs::path> files;
        for (const Tablet* t : {&ilze_, &janis_})
            for (const char* suffix : {"", "-wal", "-shm"})
                files.push_back(t->path.string() + suffix);
        std::set<fs::path> others;
        for (const auto& entry : fs::directory_iterator(dir_))
            if (entry.is_regular_file() &&
                std::find(files.begin(), files.end(), entry.path()) == files.end())
                others.insert(entry.path());
        files.insert(files.end(), others.begin(), others.end());  // e.g. a rollback journal

        bool clean = true;
        for (const auto& file : files) {
            if (!fs::exists(file)) continue;
            std::uintmax_t size = 0;
            auto found = search(file, size);
            std::cout << "     " << pad(file.filename().string(), 20) << bytes_text(size) << "  ";
            if (found.empty()) {
                std::cout << "none of the " << secrets_.size() << " names and notes appear\n";
                continue;
            }
            clean = false;
            std::cout << "PRIVACY BUG, readable here:\n";
            for (const auto& f : found)
                std::cout << "       \"" << f.secret << "\" at byte " << f.offset << "\n";
        }
        return clean;
    }

    bool privacy_check() {
        heading(6, "Privacy check: no readable names or notes on disk");
        std::cout << "   Each file is searched for the exact bytes (UTF-8) of the "
                  << secrets_.size() << " names and notes\n"
                  << "   written above. While both tablets are open:\n";
        bool clean_open = search_all();

        ilze_.replica.reset();
        janis_.replica.reset();
        std::cout << "   After both replicas are closed (SQLite folds the -wal file into the .db "
                     "and\n"
                  << "   removes it and the -shm file):\n";
        bool clean_closed = search_all();
        if (!clean_open || !clean_closed) {
            std::cout << "   FAILED: personal data is readable on disk. This is a privacy bug.\n";
            return false;
        }
        std::cout << "   Passed: names, notes and next steps are stored only encrypted.\n";
        return true;
    }

    fs::path dir_;
    std::shared_ptr<ms::ManualClock> clock_ =
        std::make_shared<ms::ManualClock>(riga_ms(2026, 11, 10, 8, 0));
    Tablet ilze_{"Ilze", dir_ / "ilze-tablet.db", nullptr};
    Tablet janis_{"Jānis", dir_ / "janis-tablet.db", nullptr};
    std::vector<Learner> learners_;
    std::string ilze_user_;
    ms::Uuid home_visit_;
    std::string home_visit_notes_, ilze_text_, janis_text_;
    std::vector<std::string> secrets_;
};

// Checks DIR: created if missing; refused if it is not a directory or holds an earlier run.
std::string prepare(const fs::path& dir) {
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
        return dir.string() + " exists and is not a directory";
    fs::create_directories(dir, ec);
    if (ec) return "cannot create " + dir.string() + ": " + ec.message();
    for (const char* name : {"ilze-tablet.db", "janis-tablet.db"})
        if (fs::exists(dir / name, ec))
            return dir.string() + " already holds " + name +
                   " from an earlier run; give a new or empty directory";
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    if (std::find(args.begin(), args.end(), "--help") != args.end() ||
        std::find(args.begin(), args.end(), "-h") != args.end()) {
        std::cout << kUsage;
        return 0;
    }
    if (args.size() != 1 || args[0].empty() || args[0].front() == '-') {
        std::cerr << "mentorsync-engine-demo: "
                  << (args.empty()      ? "missing the data directory"
                      : args.size() > 1 ? "expected one data directory, got " +
                                              std::to_string(args.size()) + " arguments"
                      : args[0].empty() ? "the data directory is an empty string"
                                        : "unknown option " + std::string(args[0]))
                  << "\n\n"
                  << kUsage;
        return 2;
    }
    fs::path dir = fs::absolute(fs::path(args[0])).lexically_normal();
    if (std::string problem = prepare(dir); !problem.empty()) {
        std::cerr << "mentorsync-engine-demo: " << problem << "\n";
        return 2;
    }

    use_riga_time();
    try {
        Story story(dir);
        return story.run() ? 0 : 1;
    } catch (const DemoFailure& failure) {
        std::cout.flush();
        std::cerr << "\nThe demo stopped: " << failure.message << "\n";
    } catch (const std::exception& e) {
        std::cout.flush();
        std::cerr << "\nThe demo stopped on an unexpected error: " << e.what() << "\n";
    }
    return 1;
}
