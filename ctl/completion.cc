// `sessctl completion bash|zsh|fish` prints a shell's completion script; the scripts are thin shims
// that ask the hidden `sessctl __complete -- WORDS…`, which walks the live CLI11 tree — so
// completion can never fall out of step with the commands.

#include <algorithm>

#include "ctl/cli.h"

namespace sessctl {

namespace {

struct CompletionOptions {
  std::string shell;
};

struct CompleteOptions {
  std::vector<std::string> words;
};

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The option named `word` ("--endpoint", "-e", "--endpoint=x") in `app` or, through fallthrough,
// in one of its parents.
const CLI::Option* FindOption(const CLI::App* app, const std::string& word) {
  std::string name = word.substr(0, word.find('='));
  for (; app != nullptr; app = app->get_parent()) {
    for (const CLI::Option* opt : app->get_options()) {
      if (opt->nonpositional() && opt->check_name(name)) return opt;
    }
  }
  return nullptr;
}

const CLI::App* FindSubcommand(const CLI::App* app, const std::string& word) {
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->check_name(word)) return sub;
  }
  return nullptr;
}

// Appends the words that start with `prefix`, each once.
void AddMatching(std::vector<std::string>& out, const std::vector<std::string>& words,
                 const std::string& prefix) {
  for (const std::string& w : words) {
    if (StartsWith(w, prefix) && std::find(out.begin(), out.end(), w) == out.end())
      out.push_back(w);
  }
}

// A comma list ("--state alive,su"): candidates for the item after the last comma, each with
// the items before it, so the shell replaces the whole word.
std::vector<std::string> ListItemCandidates(const std::vector<std::string>& choices,
                                            const std::string& word) {
  size_t comma = word.rfind(',');
  if (comma == std::string::npos) return choices;
  std::vector<std::string> out;
  for (const std::string& c : choices) out.push_back(word.substr(0, comma + 1) + c);
  return out;
}

// Option names of `app` and its parents, skipping help/version and hidden options.
std::vector<std::string> OptionNames(const CLI::App* app) {
  std::vector<std::string> names;
  for (; app != nullptr; app = app->get_parent()) {
    for (const CLI::Option* opt : app->get_options()) {
      if (!opt->nonpositional() || opt->get_group().empty()) continue;
      for (const std::string& l : opt->get_lnames()) names.push_back("--" + l);
      for (const std::string& s : opt->get_snames()) names.push_back("-" + s);
    }
  }
  return names;
}

// Candidates for a positional: its fixed choices (completion's SHELL), if any.
std::vector<std::string> PositionalChoices(const CLI::App* app, const Context& ctx) {
  std::vector<std::string> out;
  for (const CLI::Option* opt : app->get_options()) {
    auto it = ctx.choices.find(opt);
    if (opt->get_positional() && it != ctx.choices.end())
      out.insert(out.end(), it->second.begin(), it->second.end());
  }
  return out;
}

Status RunCompletion(Context& ctx, const CompletionOptions& o) {
  *ctx.out << CompletionScript(o.shell);
  return Status::Ok();
}

}  // namespace

std::vector<std::string> CompleteWords(const CLI::App& root, const Context& ctx,
                                       const std::vector<std::string>& words) {
  const CLI::App* app = &root;
  const CLI::Option* pending = nullptr;  // an option whose value is the next word
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    const std::string& w = words[i];
    if (pending) {
      pending = nullptr;
    } else if (StartsWith(w, "-") && w.size() > 1) {
      const CLI::Option* opt = FindOption(app, w);
      if (opt && opt->get_type_size() != 0 && w.find('=') == std::string::npos) pending = opt;
    } else if (const CLI::App* sub = FindSubcommand(app, w)) {
      app = sub;
    }
  }
  std::string last = words.empty() ? "" : words.back();
  std::vector<std::string> out;
  if (pending) {
    auto it = ctx.choices.find(pending);
    if (it != ctx.choices.end()) AddMatching(out, ListItemCandidates(it->second, last), last);
    return out;  // free-form values: nothing, so the shell offers files
  }
  if (StartsWith(last, "-")) {
    AddMatching(out, OptionNames(app), last);
    return out;
  }
  std::vector<std::string> subs;
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App* a) {
         return !a->get_group().empty();  // hidden commands (__complete) stay hidden
       })) {
    subs.push_back(sub->get_name());
  }
  AddMatching(out, subs, last);
  AddMatching(out, PositionalChoices(app, ctx), last);
  return out;
}

void RegisterCompletion(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<CompletionOptions>();
  CLI::App* cmd = app.add_subcommand("completion", "print the shell completion script");
  WithChoices(ctx, cmd->add_option("SHELL", o->shell, "bash, zsh or fish")->required(),
              {"bash", "zsh", "fish"});
  cmd->callback([&ctx, o] { ctx.action = [&ctx, o] { return RunCompletion(ctx, *o); }; });

  // Hidden: the completion scripts call `sessctl __complete -- WORD…` (the last word is the one
  // being completed, possibly empty) and offer one candidate per output line.
  auto c = std::make_shared<CompleteOptions>();
  CLI::App* complete = app.add_subcommand("__complete", "print completion candidates");
  complete->group("");
  complete->fallthrough(false);
  complete->add_option("WORDS", c->words, "the command line after 'sessctl'");
  const CLI::App* root = &app;
  complete->callback([&ctx, c, root] {
    ctx.action = [&ctx, c, root] {
      std::vector<std::string> words = c->words;
      if (words.empty()) words.push_back("");
      for (const std::string& w : CompleteWords(*root, ctx, words)) *ctx.out << w << "\n";
      return Status::Ok();
    };
  });
}

}  // namespace sessctl
