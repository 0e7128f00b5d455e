// The operator's side (issue 11): help for every command from its own option
// table, no abbreviated options, one name per idea, completions generated
// from the same table, version, a PIN from a command, JSON documents that say
// "ok" and their schema, and recurring plans that cron runs with no flag.
#include <sys/stat.h>

#include <set>
#include <sstream>

#include "harness.hpp"

namespace hsm::e2e {
namespace {

class Operator : public Cli {
 protected:
  void make_partition() {
    ok({"device", "create", "hsm-a", "--kind", "luna7", "--firmware", "7.8.0"});
    ok({"partition", "create", "hsm-a/p1"});
  }
  int shell(const std::string& script) {
    const fs::path f = dir_ / "script.sh";
    std::ofstream(f) << script;
    return std::system(("bash '" + f.string() + "' > '" + (dir_ / "shell.out").string() + "' 2>&1").c_str());
  }
};

TEST_F(Operator, HelpListsEveryOptionWithASentenceForEveryCommand) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"help", "backup"}, {"backup", "--help"}}) {
    auto r = ok(args);
    for (const char* opt : {"--archive", "--force", "--objects", "--wait", "--to", "--dry-run", "--replace"})
      EXPECT_NE(r.out.find(opt), std::string::npos) << opt << " in\n" << r.out;
    EXPECT_NE(r.out.find("usage: hsm-migrate backup SRC"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("wait up to SECONDS"), std::string::npos) << "each option has its sentence";
  }
  // A group: `device --help` lists the device commands (it was an error).
  auto g = ok({"device", "--help"});
  EXPECT_NE(g.out.find("device create"), std::string::npos) << g.out;
  EXPECT_NE(g.out.find("device upgrade"), std::string::npos) << g.out;
  EXPECT_EQ(run({"device"}).rc, kUsage);
  // Every command answers --help without a fleet or a PIN.
  env_["HSM_MIGRATE_PIN"] = "";
  auto all = ok({"help"}).out;
  for (const char* c : {"partition reset-pin --help", "verify --help", "prune --help", "plan run --help",
                        "key generate --help", "check --help"}) {
    std::vector<std::string> words;
    std::istringstream in(c);
    for (std::string w; in >> w;) words.push_back(w);
    auto r = run(words);
    EXPECT_EQ(r.rc, kOk) << c << ": " << r.err;
    EXPECT_NE(r.out.find("usage: hsm-migrate"), std::string::npos) << c;
  }
  EXPECT_FALSE(fs::exists(dir_ / "fleet")) << "help creates nothing";
  for (const std::vector<std::string>& v : {std::vector<std::string>{"-V"}, {"--version"}, {"version"}}) {
    auto r = ok(v);
    EXPECT_NE(r.out.find("hsm-migrate 0.2.0"), std::string::npos) << r.out;
  }
}

TEST_F(Operator, OptionsAreNeverAbbreviatedAndObjectsIsOneName) {
  make_partition();
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--label", "k"});
  const fs::path a = dir_ / "a.hsmar";
  ok({"backup", "hsm-a/p1", "--archive", a.string()});
  // --fo was taken as --force, --rep as --replace.
  auto fo = run({"backup", "hsm-a/p1", "--archive", a.string(), "--fo"});
  EXPECT_EQ(fo.rc, kUsage) << fo.err;
  EXPECT_NE(fo.err.find("--fo"), std::string::npos) << fo.err;
  ok({"partition", "create", "hsm-a/p2"});
  auto rep = run({"restore", a.string(), "--to", "hsm-a/p2", "--rep"});
  EXPECT_EQ(rep.rc, kUsage) << rep.err;
  // check --objects (as clone and backup say), --object kept as an alias.
  ok({"device", "create", "hsm-b", "--kind", "luna7", "--firmware", "7.8.0"});
  ok({"partition", "create", "hsm-b/p1"});
  auto j = ok({"check", "hsm-a/p1", "hsm-b/p1", "--objects", "all", "--json"}).json();
  EXPECT_EQ(j["objects"].size(), 1u);
  auto old = ok({"check", "hsm-a/p1", "hsm-b/p1", "--object", "k", "--json"}).json();
  EXPECT_EQ(old["objects"].size(), 1u);
}

TEST_F(Operator, CompletionsComeFromTheCommandTableAndWork) {
  auto b = ok({"completions", "bash"});
  EXPECT_NE(b.out.find("--trusted-root"), std::string::npos);
  EXPECT_NE(b.out.find("\"partition domain\") next="), std::string::npos) << b.out.substr(0, 400);
  // Valid bash, and it completes: `hsm-migrate ba<TAB>` -> backup.
  std::ofstream(dir_ / "c.bash") << b.out;
  const std::string script = "source '" + (dir_ / "c.bash").string() +
                             "'\nCOMP_WORDS=(hsm-migrate ba); COMP_CWORD=1; _hsm_migrate; echo \"${COMPREPLY[@]}\"\n"
                             "COMP_WORDS=(hsm-migrate backup hsm-a/p1 --arc); COMP_CWORD=3; _hsm_migrate; echo \"${COMPREPLY[@]}\"\n"
                             "COMP_WORDS=(hsm-migrate partition domain ''); COMP_CWORD=3; _hsm_migrate; echo \"${COMPREPLY[@]}\"\n";
  ASSERT_EQ(shell(script), 0) << slurp(dir_ / "shell.out");
  const std::string out = slurp(dir_ / "shell.out");
  EXPECT_NE(out.find("backup"), std::string::npos) << out;
  EXPECT_NE(out.find("--archive"), std::string::npos) << out;
  EXPECT_NE(out.find("add delete label list"), std::string::npos) << out;
  auto z = ok({"completions", "zsh"});
  EXPECT_EQ(z.out.rfind("#compdef hsm-migrate", 0), 0u);
  std::ofstream(dir_ / "_hsm-migrate") << z.out;
  ASSERT_EQ(std::system(("zsh -n '" + (dir_ / "_hsm-migrate").string() + "'").c_str()), 0) << "zsh parses it";
  EXPECT_EQ(run({"completions", "fish"}).rc, kUsage);
}

TEST_F(Operator, APinFromACommandAndJsonDocumentsSayOkAndTheirSchema) {
  make_partition();
  env_["HSM_MIGRATE_PIN"] = "";
  auto k = ok({"--pin-command", "printf 'e2e-partition-pin\\n'", "key", "generate", "hsm-a/p1", "--type",
               "aes-256", "--json"})
               .json();
  EXPECT_EQ(k["ok"], true);
  EXPECT_EQ(k["schema_version"], 1);
  env_["HSM_MIGRATE_PIN_COMMAND"] = "echo \"$HSM_MIGRATE_PIN_FOR\" >&2; echo e2e-partition-pin";
  auto l = ok({"object", "list", "hsm-a/p1", "--json"});
  EXPECT_EQ(l.json()["ok"], true);
  EXPECT_EQ(l.json()["schema_version"], 1);
  EXPECT_NE(l.err.find("hsm-a/p1"), std::string::npos) << "the command is told which partition";
  env_["HSM_MIGRATE_PIN_COMMAND"] = "exit 3";
  auto bad = run({"object", "list", "hsm-a/p1"});
  EXPECT_EQ(bad.rc, kUsage) << bad.err;
  EXPECT_NE(bad.err.find("command failed (exit 3)"), std::string::npos) << bad.err;
  auto e = run({"object", "list", "nope/p1", "--json"});
  EXPECT_EQ(e.json()["ok"], false);
  EXPECT_EQ(e.json()["schema_version"], 1);
}

// Issue 11 §1: a recurring plan needs no flag. Each run starts a new one, and
// a night a crash interrupted is finished first, then tonight's run starts;
// a one-shot plan run again still says it already finished.
TEST_F(Operator, ARecurringPlanRunsEveryNightAndFinishesAnInterruptedOne) {
  const fs::path p = dir_ / "nightly.toml";
  std::ofstream(p) << "[plan]\nname = \"n\"\nrecurring = true\n"
                      "[[device]]\nname = \"prod\"\nemulated = true\nkind = \"luna7\"\nfirmware = \"7.8.0\"\n"
                      "[[device.partition]]\nname = \"app\"\ndomain = \"corp\"\n"
                      "[[device.partition.keys]]\ntype = \"aes-256\"\ncount = 2\n"
                      "[[step]]\naction = \"backup\"\nfrom = \"prod/app\"\narchive = \"b/app-%Y%m%d-%H%M%S.hsmar\"\n";
  auto count_archives = [&] {
    std::size_t n = 0;
    if (fs::exists(dir_ / "fleet" / "b"))
      for (const auto& e : fs::directory_iterator(dir_ / "fleet" / "b")) n += e.path().extension() == ".hsmar";
    return n;
  };
  ok({"plan", "run", p.string()});
  ASSERT_EQ(count_archives(), 1u);
  ::sleep(1);  // a new second: a new archive name
  ok({"plan", "run", p.string()});
  EXPECT_EQ(count_archives(), 2u);
  // Killed mid-backup: the next run finishes that night, then runs its own.
  ::sleep(1);
  env_["HSM_MIGRATE_CRASH_POINT"] = "backup-blob:1";
  EXPECT_EQ(run({"plan", "run", p.string()}).rc, 128 + 9);
  env_["HSM_MIGRATE_CRASH_POINT"] = "";
  ::sleep(1);
  auto r = ok({"plan", "run", p.string(), "--json"}).json();
  EXPECT_TRUE(r.contains("resumed_run")) << r.dump();
  EXPECT_EQ(count_archives(), 4u);
  // A one-shot plan, as before.
  const fs::path once = dir_ / "once.toml";
  std::ofstream(once) << "[plan]\nname = \"once\"\n"
                         "[[device]]\nname = \"x\"\nemulated = true\nkind = \"luna7\"\nfirmware = \"7.8.0\"\n";
  ok({"plan", "run", once.string()});
  auto again = ok({"plan", "run", once.string()});
  EXPECT_NE(again.out.find("already finished"), std::string::npos) << again.out;
}

// plan list: the built-in plans and those found on HSM_MIGRATE_PLAN_PATH,
// the first of a name being the one `plan run NAME` takes.
TEST_F(Operator, PlanListShowsBuiltInAndFoundPlans) {
  const fs::path mine = dir_ / "plans";
  fs::create_directories(mine);
  std::ofstream(mine / "my-nightly.toml") << "[plan]\nname = \"my-nightly\"\ndescription = \"ours\"\nrecurring = true\n";
  std::ofstream(mine / "nightly-backup.toml") << "[plan]\nname = \"nightly-backup\"\ndescription = \"our own\"\n";
  std::ofstream(mine / "broken.toml") << "[plan\n";
  env_["HSM_MIGRATE_PLAN_PATH"] = mine.string();
  auto j = ok({"--json", "plan", "list"}).json();
  std::map<std::string, nlohmann::json> first;
  int shadowed = 0;
  for (const auto& p : j["plans"]) {
    if (p.contains("shadowed")) ++shadowed;
    else first[p["name"]] = p;
  }
  ASSERT_TRUE(first.count("luna6-to-luna7")) << j.dump(2);
  EXPECT_EQ(first["my-nightly"]["recurring"], true);
  EXPECT_EQ(first["nightly-backup"]["description"], "our own") << "HSM_MIGRATE_PLAN_PATH comes first";
  EXPECT_EQ(shadowed, 1) << "the built-in nightly-backup is shadowed";
  EXPECT_TRUE(first["broken"].contains("error")) << j.dump(2);
  auto text = ok({"plan", "list"}).out;
  EXPECT_NE(text.find("luna6-to-luna7"), std::string::npos) << text;
  EXPECT_NE(text.find("does not parse"), std::string::npos) << text;
  // What it lists, plan run takes by name.
  EXPECT_EQ(ok({"--json", "plan", "show", "my-nightly"}).json()["plan"], "my-nightly");
}

// plan run --domain-file: the domain secret from a file (0600), with no
// $HSM_MIGRATE_DOMAIN; the plan's partition is in that domain.
TEST_F(Operator, PlanRunTakesTheDomainSecretFromAFile) {
  const fs::path secret = dir_ / "domain.txt";
  std::ofstream(secret) << "a-domain-from-a-file\n";
  ::chmod(secret.c_str(), 0600);
  const fs::path p = dir_ / "setup.toml";
  std::ofstream(p) << "[plan]\nname = \"setup\"\n"
                      "[[device]]\nname = \"prod\"\nemulated = true\nkind = \"luna7\"\nfirmware = \"7.8.0\"\n"
                      "[[device.partition]]\nname = \"app\"\ndomain = \"corp\"\n";
  env_["HSM_MIGRATE_DOMAIN"] = "";
  ok({"plan", "run", p.string(), "--domain-file", secret.string()});
  ok({"device", "create", "other", "--kind", "luna7", "--firmware", "7.8.0"});
  ok({"partition", "create", "other/p", "--domain-file", secret.string()});
  auto fp = [&](const std::string& part) {
    return ok({"--json", "partition", "show", part}).json()["partition"]["domains"][0]["fingerprint"].get<std::string>();
  };
  EXPECT_EQ(fp("prod/app"), fp("other/p"));
}

// A restore selector that matches nothing is an error, as for backup, and
// writes nothing: with --replace, the target keeps its objects.
TEST_F(Operator, ARestoreSelectorMatchingNothingIsAnErrorAndWritesNothing) {
  make_partition();
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--label", "k", "--count", "2"});
  const std::string archive = (dir_ / "a.hsmar").string();
  ok({"backup", "hsm-a/p1", "--archive", archive});
  ok({"partition", "create", "hsm-a/p2"});
  ok({"key", "generate", "hsm-a/p2", "--type", "aes-128", "--label", "keep-me"});
  for (const std::vector<std::string>& extra : {std::vector<std::string>{}, {"--replace"}}) {
    std::vector<std::string> args{"restore", archive, "--to", "hsm-a/p2", "--objects", "no-such-label"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run(args);
    EXPECT_EQ(r.rc, kUsage) << r.err;
    EXPECT_NE(r.err.find("no archived object matches --objects no-such-label"), std::string::npos) << r.err;
    auto list = ok({"--json", "object", "list", "hsm-a/p2"}).json();
    ASSERT_EQ(list["objects"].size(), 1u) << list.dump();
    EXPECT_EQ(list["objects"][0]["label"], "keep-me");
  }
  // A label that is there restores just that object (--count 2 made k-1, k-2).
  auto k = ok({"--json", "restore", archive, "--to", "hsm-a/p2", "--objects", "k-2"}).json();
  EXPECT_EQ(k["counts"]["created"], 1);
}

// restore ARCHIVE --dry-run: the counts the real restore then reports
// (created, already present, refused, deleted first), and nothing changed.
TEST_F(Operator, RestoreDryRunCountsWhatTheRestoreWouldDoAndChangesNothing) {
  make_partition();
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--label", "k", "--count", "3"});
  const std::string archive = (dir_ / "a.hsmar").string();
  ok({"backup", "hsm-a/p1", "--archive", archive});
  ok({"partition", "create", "hsm-a/p2"});
  ok({"restore", archive, "--to", "hsm-a/p2", "--objects", "k-1"});  // one already there
  ok({"key", "generate", "hsm-a/p2", "--type", "aes-128", "--label", "other"});
  auto fingerprints = [&] {
    std::multiset<std::string> fps;
    const auto listing = ok({"--json", "object", "list", "hsm-a/p2"}).json();
    for (const auto& o : listing["objects"])  // named: a temporary's member would dangle
      fps.insert(o["fingerprint"].get<std::string>());
    return fps;
  };
  const auto before = fingerprints();
  auto dry = ok({"--json", "restore", archive, "--to", "hsm-a/p2", "--dry-run"}).json();
  EXPECT_EQ(dry["dry_run"], true);
  EXPECT_EQ(dry["counts"]["created"], 2);
  EXPECT_EQ(dry["counts"]["already_present"], 1);
  EXPECT_EQ(fingerprints(), before) << "a dry run changes nothing";
  auto text = ok({"restore", archive, "--to", "hsm-a/p2", "--dry-run", "--replace"});
  EXPECT_NE(text.out.find("would create 3 object(s)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("2 deleted first"), std::string::npos) << text.out;
  EXPECT_EQ(fingerprints(), before) << "not even with --replace";
  // The real restore does what the dry run said.
  auto real = ok({"--json", "restore", archive, "--to", "hsm-a/p2"}).json();
  EXPECT_EQ(real["counts"]["created"], dry["counts"]["created"]);
  EXPECT_EQ(real["counts"]["already_present"], dry["counts"]["already_present"]);
}

// One device whose plugin is missing does not hide the fleet: it is listed
// with the reason, the others as usual.
TEST_F(Operator, DeviceListShowsADeviceWhosePluginIsMissing) {
  make_partition();
  ok({"device", "create", "g5", "--kind", "backup-g5"});
  const fs::path plugins = dir_ / "plugins";
  fs::create_directories(plugins);
  for (const auto& e : fs::directory_iterator(fs::path(HSM_BIN_DIR) / ".." / "lib" / "hsm-migrate" / "plugins"))
    if (e.path().filename().string().find("luna7") != std::string::npos)
      fs::copy_file(e.path(), plugins / e.path().filename());
  auto r = ok({"device", "list", "--plugin-dir", plugins.string()});
  EXPECT_NE(r.out.find("hsm-a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("g5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unavailable"), std::string::npos) << r.out;
  auto j = ok({"--json", "device", "list", "--plugin-dir", plugins.string()}).json();
  ASSERT_EQ(j["devices"].size(), 2u) << j.dump();
  for (const auto& d : j["devices"]) {
    if (d["name"] == "g5") {
      EXPECT_EQ(d["kind"], "backup-g5");
      EXPECT_NE(d["state"].get<std::string>().find("unavailable"), std::string::npos);
    } else {
      EXPECT_FALSE(d.contains("state")) << d.dump();
    }
  }
}

// --metrics-file (issue 11 §6): what node_exporter's textfile collector
// reads, valid for promtool, one series per operation and partition, and a
// failed run shows as one (its exit code; its last success unchanged).
TEST_F(Operator, MetricsFileRecordsRunsForTheTextfileCollector) {
  make_partition();
  ok({"key", "generate", "hsm-a/p1", "--type", "aes-256", "--count", "3"});
  const fs::path prom = dir_ / "hsm-migrate.prom";
  // The value of `metric` on the line carrying every one of `labels`.
  auto value = [&](const std::string& metric, const std::vector<std::string>& labels) -> std::string {
    std::istringstream in(slurp(prom));
    for (std::string line; std::getline(in, line);) {
      if (!line.starts_with(metric + "{")) continue;
      bool all = true;
      for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
      if (all) return line.substr(line.rfind(' ') + 1);
    }
    return "absent";
  };
  const std::string archive = (dir_ / "a.hsmar").string();
  ok({"backup", "hsm-a/p1", "--archive", archive, "--metrics-file", prom.string()});
  const std::vector<std::string> backup = {"operation=\"backup\"", "partition=\"hsm-a/p1\""};
  EXPECT_EQ(value("hsm_migrate_last_objects", backup), "3");
  EXPECT_EQ(value("hsm_migrate_last_bytes", backup), std::to_string(fs::file_size(archive)));
  EXPECT_EQ(value("hsm_migrate_last_exit_code", backup), "0");
  const std::string success = value("hsm_migrate_last_success_timestamp_seconds", backup);
  EXPECT_GT(std::stod(success), 1.7e9);
  // From the environment, as a cron line or a systemd unit sets it; the
  // backup's series stays.
  env_["HSM_MIGRATE_METRICS_FILE"] = prom.string();
  ok({"verify", archive});
  EXPECT_EQ(value("hsm_migrate_last_objects", {"operation=\"verify\"", "archive=\"" + archive + "\""}), "3");
  EXPECT_EQ(value("hsm_migrate_last_objects", backup), "3");
  // A failed backup (the archive exists): its exit code, the last success kept.
  ::sleep(1);
  EXPECT_EQ(run({"backup", "hsm-a/p1", "--archive", archive}).rc, kUsage);
  EXPECT_EQ(value("hsm_migrate_last_exit_code", backup), std::to_string(kUsage));
  EXPECT_EQ(value("hsm_migrate_last_success_timestamp_seconds", backup), success);
  EXPECT_GT(std::stod(value("hsm_migrate_last_run_timestamp_seconds", backup)), std::stod(success));
  // What Prometheus' own checker says of the file.
  EXPECT_EQ(std::system(("promtool check metrics < '" + prom.string() + "' > '" + (dir_ / "promtool.out").string() +
                         "' 2>&1").c_str()),
            0)
      << slurp(dir_ / "promtool.out");
  EXPECT_EQ(fs::status(prom).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  // A file that cannot be written fails a run that succeeded, with one line.
  env_["HSM_MIGRATE_METRICS_FILE"] = (dir_ / "no-such-folder" / "m.prom").string();
  auto r = run({"verify", archive});
  EXPECT_EQ(r.rc, kOther) << r.err;
  EXPECT_NE(r.err.find("--metrics-file"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// A plan's parse errors (issue 11 §6): --json gives every problem as an
// array of {file, line, message}; the text lists one per line under the
// error line. Exit 2 either way.
TEST_F(Operator, PlanProblemsComeAsAnArrayInJsonAndOneLineEachInText) {
  const fs::path p = dir_ / "bad.toml";
  std::ofstream(p) << "[plan]\nname = \"bad\"\nbogus = 1\n"                       // 3
                      "[[device]]\nname = \"a\"\nemulated = true\nkind = \"luna9\"\n"  // 4-7
                      "[[step]]\naction = \"frob\"\n";                                // 8-9
  auto j = run({"--json", "plan", "check", p.string()});
  EXPECT_EQ(j.rc, kUsage) << j.err;
  const auto doc = j.json();
  EXPECT_EQ(doc["ok"], false);
  const auto& problems = doc["error"]["problems"];
  ASSERT_TRUE(problems.is_array()) << doc.dump(2);
  ASSERT_EQ(problems.size(), 3u) << doc.dump(2);
  EXPECT_EQ(problems[0]["line"], 3);
  EXPECT_EQ(problems[0]["file"], p.string());
  EXPECT_EQ(problems[1]["line"], 7);
  EXPECT_EQ(problems[2]["line"], 9);  // the step's action key
  EXPECT_NE(problems[2]["message"].get<std::string>().find("unknown action \"frob\""), std::string::npos);
  EXPECT_EQ(doc["error"]["message"], "plan " + p.string() + " has 3 problems");

  auto t = run({"plan", "check", p.string()});
  EXPECT_EQ(t.rc, kUsage);
  EXPECT_EQ(std::count(t.err.begin(), t.err.end(), '\n'), 4) << t.err;  // the error line and 3 problems
  EXPECT_NE(t.err.find("\n  " + p.string() + ":7: key \"kind\""), std::string::npos) << t.err;
  EXPECT_EQ(t.err.find("\\n"), std::string::npos) << "no escaped newline: " << t.err;
  // Other errors carry an empty array.
  auto other = run({"--json", "plan", "check", (dir_ / "missing.toml").string()});
  EXPECT_TRUE(other.json()["error"]["problems"].empty()) << other.out;
}

}  // namespace
}  // namespace hsm::e2e
