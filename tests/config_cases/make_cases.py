"""Write the blind config round's files and manifest (tests/config_cases/files/, cases.jsonl).

The cases are `cvalues run --config FILE` files a user would write from README.md, docs/run.md,
docs/models.md, docs/judge.md, examples/two-models.yaml and `cvalues run --help`, written before reading
the config loader's code, so they test what a user is promised rather than what the code happens to do.
The files are committed; this script is how they were made (rerun it after editing a case:
`python tests/config_cases/make_cases.py`).

Placeholders in a case: `{d}` is the temporary copy of files/ the case runs in (also the working
directory). Models are `openai:` ones; the test points `OPENAI_BASE_URL` at a local test server
(tests/openai_server.py), so a case without `--dry-run` really runs, and its `plan` facts are read back
from `OUT/config.yaml` ("the validated config as run", docs/run.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
FILES.mkdir(exist_ok=True)

CASES: list[dict[str, Any]] = []


def write(name: str, text: str, *, encoding: str = "utf-8", bom: bool = False, crlf: bool = False) -> str:
    if crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path = FILES / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return name


def case(cid: str, argv: list[str], expect: str, why: str, **more: Any) -> None:
    CASES.append({"id": cid, "argv": argv, "expect": expect, **more, "why": why})


def run(name: str, *extra: str) -> list[str]:
    """A real run of a config (against the local test server)."""
    return ["run", "--config", name, "--no-progress", *extra]


def dry(name: str, *extra: str) -> list[str]:
    return ["run", "--config", name, "--dry-run", *extra]


def err(file: str | None, line: int | None, field: str | None) -> dict[str, Any]:
    return {"file": file, "line": line, "field": field}


#: The small job most cases share: two quick stages, no judge.
SMALL = "suites:\n  safety-mc: {sample: 2}\n  safety-prompts: {sample: 2}\njudge: {}\n"
M1 = "models:\n  - name: m1\n    spec: openai:test-model\n"

# ---------------------------------------------------------------------------------------------------
# Odd but valid: must be accepted and mean what the user wrote.
# ---------------------------------------------------------------------------------------------------

write(
    "anchor_alias.yaml",
    "models:\n"
    "  - name: a\n"
    "    spec: openai:test-model\n"
    "    settings: &common {max_tokens: 64, temperature: 0}\n"
    "  - name: b\n"
    "    spec: openai:other-model\n"
    "    settings: *common\n" + SMALL + "out: out\n",
)
case(
    "anchor-alias",
    run("anchor_alias.yaml"),
    "accept",
    "YAML anchors and aliases share settings between models",
    plan={"models[0].settings.max_tokens": 64, "models[1].settings.max_tokens": 64, "models[1].name": "b"},
    exists=["out/a/mc-safety", "out/b/gen-safety"],
)

write(
    "merge_keys.yaml",
    "models:\n"
    "  - name: a\n"
    "    spec: openai:test-model\n"
    "    settings: &common\n"
    "      max_tokens: 64\n"
    "      top_p: 0.9\n"
    "  - name: b\n"
    "    spec: openai:test-model\n"
    "    settings:\n"
    "      <<: *common\n"
    "      max_tokens: 32\n" + SMALL + "out: out\n",
)
case(
    "merge-keys-override",
    run("merge_keys.yaml"),
    "accept",
    "a merge key (`<<: *common`) then an explicit key: the explicit key wins (YAML merge spec), and is "
    "not a key given twice",
    plan={
        "models[1].settings.max_tokens": 32,
        "models[1].settings.top_p": 0.9,
        "models[0].settings.max_tokens": 64,
    },
)

write(
    "merge_model.yaml",
    "models:\n"
    "  - &base\n"
    "    name: base\n"
    "    spec: openai:test-model\n"
    "    settings: {max_tokens: 50}\n"
    "    concurrency: 2\n"
    "  - <<: *base\n"
    "    name: base-sys\n"
    "    settings: {max_tokens: 50, system_prompt: 你是一个负责任的助手。}\n" + SMALL + "out: out\n",
)
case(
    "merge-whole-model",
    run("merge_model.yaml"),
    "accept",
    "a second model built from the first with `<<: *base` and a new name",
    plan={
        "models[1].name": "base-sys",
        "models[1].spec": "openai:test-model",
        "models[1].concurrency": 2,
        "models[1].settings.system_prompt": "你是一个负责任的助手。",
    },
    exists=["out/base/mc-safety", "out/base-sys/mc-safety"],
)

write(
    "merge_list.yaml",
    "models:\n"
    "  - name: a\n"
    "    spec: openai:test-model\n"
    "    settings:\n"
    "      <<: [&short {max_tokens: 10}, &nucleus {max_tokens: 20, top_p: 0.5}]\n" + SMALL + "out: out\n",
)
case(
    "merge-list",
    run("merge_list.yaml"),
    "accept",
    "`<<: [*a, *b]`: the first mapping listed wins a key both hold (YAML merge spec)",
    plan={"models[0].settings.max_tokens": 10, "models[0].settings.top_p": 0.5},
)

write(
    "comments.yaml",
    "# 评测配置：两个阶段\n"
    "---\n"
    "\n"
    "models:   # 被测模型\n"
    "\n"
    "  # 第一个模型\n"
    "  - name: m1          # 文件夹名\n"
    "    spec: openai:test-model\n"
    "\n"
    "suites:\n"
    "  safety-mc: {sample: 2}   # 成对\n"
    "  # responsibility-mc: {sample: 50}\n"
    "  safety-prompts: {sample: 2}\n"
    "judge: {}   # 不评判\n"
    "\n"
    "out: out    # 输出\n"
    "...\n",
)
case(
    "comments-blank-markers",
    run("comments.yaml"),
    "accept",
    "comments (Chinese too), blank lines, a commented-out suite, `---` and `...` document markers",
    plan={"out": "out"},
    exists=["out/m1/mc-safety", "out/m1/gen-safety"],
    absent=["out/m1/mc-responsibility"],
)

write(
    "bom_crlf.yaml",
    "# Windows 记事本保存的配置\n"
    "models:\n"
    "  - name: m1\n"
    "    spec: openai:test-model\n"
    "    settings:\n"
    "      system_prompt: |\n"
    "        你是一个助手。\n"
    "        请用中文回答。\n" + SMALL + "out: out\n",
    bom=True,
    crlf=True,
)
case(
    "bom-crlf-block",
    run("bom_crlf.yaml"),
    "accept",
    "a UTF-8 BOM and CRLF line endings (Windows Notepad); a block scalar keeps `\\n`, never `\\r\\n`",
    plan={"models[0].settings.system_prompt": "你是一个助手。\n请用中文回答。\n"},
)

write(
    "gb18030.yaml",
    "# 用 GB18030 编码保存的配置文件\n"
    "models:\n"
    "  - name: 通义千问-测试\n"
    "    spec: openai:test-model\n"
    "    settings: {system_prompt: 请认真回答下面的问题。}\n" + SMALL + "out: 输出\n",
    encoding="gb18030",
)
case(
    "gb18030-chinese-name",
    run("gb18030.yaml"),
    "accept",
    "docs/run.md: YAML in UTF-8 or GB18030; a Chinese model name and out folder decode correctly",
    plan={
        "models[0].name": "通义千问-测试",
        "models[0].settings.system_prompt": "请认真回答下面的问题。",
        "out": "输出",
    },
    plan_out="输出",
    exists=["输出/通义千问-测试/mc-safety"],
)

write(
    "gb18030_late.yaml",
    "# "
    + "x" * 70
    + "\n" * 1
    + ("# an English header that goes on for a while before any Chinese text\n" * 40)
    + "models:\n  - name: 中文模型\n    spec: openai:test-model\n"
    + SMALL
    + "out: out\n",
    encoding="gb18030",
)
case(
    "gb18030-late-chinese",
    run("gb18030_late.yaml"),
    "accept",
    "a GB18030 file whose first Chinese character comes after 3 KB of ASCII: the encoding is decided on "
    "the whole file, not a prefix",
    plan={"models[0].name": "中文模型"},
)

write(
    "fullwidth_values.yaml",
    "models:\n"
    "  - name: 模型　甲\n"
    "    spec: openai:test-model\n"
    "    settings:\n"
    "      system_prompt: 请回答：这样做安全吗？\n" + SMALL + "out: out\n",
)
case(
    "fullwidth-in-values",
    run("fullwidth_values.yaml"),
    "accept",
    "a full-width colon and an ideographic space inside values are text, kept as written (only in keys "
    "and indentation are they mistakes)",
    plan={"models[0].name": "模型\u3000甲", "models[0].settings.system_prompt": "请回答：这样做安全吗？"},
)

write(
    "spaces_paths.yaml",
    M1.replace("name: m1", 'name: "my model"') + SMALL + "out: 运行 结果/第一次\n",
)
case(
    "space-chinese-paths",
    run("spaces_paths.yaml"),
    "accept",
    "a model name with a space and an out folder with spaces and Chinese",
    plan={"models[0].name": "my model"},
    plan_out="运行 结果/第一次",
    exists=["运行 结果/第一次/my model/mc-safety"],
)

write(
    "string_numbers.yaml",
    "models:\n"
    "  - name: m1\n"
    "    spec: openai:test-model\n"
    '    settings: {max_tokens: "64", temperature: "0"}\n'
    '    concurrency: "4"\n'
    "suites:\n"
    '  safety-mc: {sample: "2"}\n'
    "  safety-prompts: {sample: '2'}\n"
    "judge: {}\n"
    "out: out\n"
    'concurrency: "8"\n',
)
case(
    "numbers-as-strings",
    run("string_numbers.yaml"),
    "accept",
    'numbers written as strings ("2") are the numbers (as a spreadsheet user would quote them)',
    plan={
        "suites.safety-mc.sample": 2,
        "suites.safety-prompts.sample": 2,
        "models[0].settings.max_tokens": 64,
        "models[0].concurrency": 4,
        "concurrency": 8,
    },
)

write(
    "yaml11_bools.yaml",
    M1 + "suites:\n"
    "  safety-mc: {sample: 2, full: no}\n"
    "  safety-prompts: {sample: 2, include_benign: yes}\n"
    "judge: {}\n"
    "data:\n"
    "  offline: on\n"
    "out: out\n",
)
case(
    "yaml11-booleans",
    run("yaml11_bools.yaml"),
    "accept",
    "yes/no/on/off in boolean fields are booleans (YAML 1.1, what PyYAML and most users expect)",
    plan={
        "suites.safety-prompts.include_benign": True,
        "suites.safety-mc.full": False,
        "data.offline": True,
    },
)

write("norway.yaml", M1.replace("name: m1", "name: no") + SMALL + "out: out\n")
case(
    "norway-name",
    run("norway.yaml"),
    "accept",
    "the Norway problem: `name: no` in a text field means the text `no`, not a boolean (and not 'False')",
    plan={"models[0].name": "no"},
    exists=["out/no/mc-safety"],
    absent=["out/False", "out/false"],
)

write(
    "numeric_name.yaml",
    "models:\n  - name: 1.10\n    spec: openai:test-model\n  - name: 2024\n    spec: openai:test-model\n"
    + SMALL
    + "out: out\n",
)
case(
    "numeric-names",
    run("numeric_name.yaml"),
    "accept",
    "a version-like model name `1.10` is the folder `1.10`, not the float 1.1 (which would silently merge "
    "it with a model named 1.1); `2024` is the text 2024",
    plan={"models[0].name": "1.10", "models[1].name": "2024"},
    exists=["out/1.10/mc-safety", "out/2024/mc-safety"],
    absent=["out/1.1"],
)

write(
    "config.json",
    json.dumps(
        {
            "models": [{"name": "m1", "spec": "openai:test-model", "settings": {"max_tokens": 40}}],
            "suites": {"safety-mc": {"sample": 2}, "safety-prompts": {"sample": 2}},
            "judge": {},
            "out": "out",
        },
        ensure_ascii=False,
        indent=2,
    )
    + "\n",
)
case(
    "json-config",
    run("config.json"),
    "accept",
    "JSON is YAML: a config written as JSON (as many tools export it) is read",
    plan={"models[0].settings.max_tokens": 40},
)

write(
    "reordered.yaml",
    "out: out\n"
    "judge: {}\n"
    "suites:\n  safety-prompts: {sample: 2}\n  safety-mc: {sample: 2, seed: 7}\n"
    "models:\n  - settings: {max_tokens: 30}\n    spec: openai:test-model\n    name: m1\n",
)
case(
    "keys-reordered",
    run("reordered.yaml"),
    "accept",
    "keys in any order, at every level",
    plan={"models[0].name": "m1", "suites.safety-mc.seed": 7, "models[0].settings.max_tokens": 30},
)

write("out_override.yaml", M1 + SMALL + "out: from-config\n")
case(
    "out-overridden",
    run("out_override.yaml", "--out", "from-flag"),
    "accept",
    "docs/run.md: --out overrides the config's out; nothing goes to the config's folder",
    plan_out="from-flag",
    exists=["from-flag/m1/mc-safety"],
    absent=["from-config"],
)

write("no_out.yaml", M1 + SMALL)
case(
    "out-only-on-flag",
    run("no_out.yaml", "--out", "flagged"),
    "accept",
    "a config without `out`, the folder given by --out",
    plan_out="flagged",
    exists=["flagged/m1/gen-safety"],
)

write("tilde_out.yaml", M1 + SMALL + "out: ~/runs/t\n")
case(
    "tilde-out",
    run("tilde_out.yaml"),
    "accept",
    "`~` in a path is the home folder (as in a shell); a folder literally named `~` in the working "
    "directory would be a confident wrong",
    env={"HOME": "{d}/home"},
    plan_out="home/runs/t",
    exists=["home/runs/t/m1/mc-safety"],
    absent=["~"],
)

write("env_out.yaml", M1 + SMALL + "out: $CVR_RUNS/x\n")
case(
    "envvar-out",
    run("env_out.yaml"),
    "accept",
    "an environment variable in a path is expanded (as a shell user expects); a folder literally named "
    "`$CVR_RUNS` would be a confident wrong",
    env={"CVR_RUNS": "{d}/envruns"},
    plan_out="envruns/x",
    exists=["envruns/x/m1/mc-safety"],
    absent=["$CVR_RUNS"],
)

write(
    "subset.yaml",
    M1 + "suites:\n  responsibility-prompts: {sample: 2}\njudge: {}\nout: out\n",
)
case(
    "suites-subset",
    run("subset.yaml"),
    "accept",
    "docs/run.md: the suites named are the stages run; the others are not",
    exists=["out/m1/gen-responsibility"],
    absent=["out/m1/mc-safety", "out/m1/gen-safety", "out/m1/mc-responsibility"],
)

write(
    "judge_resp_only.yaml",
    M1 + "suites:\n  responsibility-prompts: {sample: 2}\n  safety-prompts: {sample: 2}\n"
    "judge:\n  safety: null\n  responsibility:\n    spec: openai:judge-model\n"
    "    rubric: cvalues-responsibility\nout: out\n",
)
case(
    "judge-safety-null",
    dry("judge_resp_only.yaml"),
    "accept",
    "docs/run.md: `safety: null` means no safety judge; the responsibility judge is planned",
    output_has=["judge-responsibility", "gen-safety"],
    output_lacks=["judge-safety"],
)

write(
    "judge_samples.yaml",
    M1 + "suites:\n  safety-prompts: {sample: 2}\n"
    "judge:\n  safety:\n    spec: openai:judge-model\n    rubric: cvalues-safety\n"
    "    samples: 3\n    temperature: 0.7\nout: out\n",
)
case(
    "judge-samples-temperature",
    dry("judge_samples.yaml"),
    "accept",
    "docs/judge.md: samples with temperature > 0 is a valid judge",
    output_has=["judge-safety"],
)

write(
    "several_models.yaml",
    "models:\n"
    "  - name: fast\n"
    "    spec: openai:test-model\n"
    "    concurrency: 2\n"
    "    options: {timeout: 30, max_retries: 1}\n"
    "  - name: thinking-off\n"
    "    spec: openai:test-model\n"
    "    options:\n"
    "      extra_body: {enable_thinking: false}\n"
    "  - name: 中文名\n"
    "    spec: openai:test-model\n"
    '    settings: {max_tokens: 16, stop: ["\\n\\n", 。], seed: 3}\n' + SMALL + "out: out\nconcurrency: 3\n",
)
case(
    "several-models-options",
    run("several_models.yaml"),
    "accept",
    "several models with per-model concurrency, backend options and settings",
    plan={
        "models[0].options.timeout": 30,
        "models[0].options.max_retries": 1,
        "models[1].options.extra_body.enable_thinking": False,
        "models[2].settings.stop": ["\n\n", "。"],
        "models[2].settings.seed": 3,
        "models[0].concurrency": 2,
    },
    exists=["out/fast/mc-safety", "out/thinking-off/mc-safety", "out/中文名/gen-safety"],
)

write("tab_after_colon.yaml", M1 + SMALL + "out:\tout\n")
case(
    "tab-after-colon",
    run("tab_after_colon.yaml"),
    "accept",
    "a tab between `key:` and its value is separation whitespace (YAML 1.2), not indentation",
    plan={"out": "out"},
)

write(
    "tab_comment.yaml",
    "models:\n  - name: m1\t# 名字\n    spec: openai:test-model\t\n" + SMALL + "out: out\t\t# 输出\n",
)
case(
    "tabs-before-comments",
    run("tab_comment.yaml"),
    "accept",
    "tabs before a comment or at a line's end (editors that align comments with tabs) are whitespace",
    plan={"models[0].name": "m1", "out": "out"},
)

write(
    "flow.yaml",
    "{models: [{name: m1, spec: 'openai:test-model'}], suites: {safety-mc: {sample: 2}, "
    "safety-prompts: {sample: 2}}, judge: {}, out: out}\n",
)
case(
    "flow-style",
    run("flow.yaml"),
    "accept",
    "the whole config in flow style on one line",
    plan={"out": "out"},
)

write(
    "quoted.yaml",
    '\'models\':\n  - "name": \'m1\'\n    "spec": "openai:test-model"\n'
    '"suites":\n  "safety-mc": {"sample": 2}\n  \'safety-prompts\': {\'sample\': 2}\n'
    "judge: {}\n\"out\": 'out'\n",
)
case("quoted-keys", run("quoted.yaml"), "accept", "quoted keys and values", plan={"models[0].name": "m1"})

write("answers/a.jsonl", '{"id": "x1", "response": "回复1"}\n')
write("答案 文件/回答.jsonl", '{"id": "x1", "response": "回复1"}\n')
write(
    "sub/replay_cwd.yaml",
    "models:\n  - name: r\n    spec: replay:answers/a.jsonl\n"
    '  - name: r2\n    spec: "replay:答案 文件/回答.jsonl"\n' + SMALL + "out: out\n",
)
case(
    "replay-relative-to-cwd",
    dry("sub/replay_cwd.yaml"),
    "accept",
    "docs/run.md: paths in the config are relative to the folder the command runs in, not to the "
    "config's; a replay path with Chinese and a space",
    output_has=["r2"],
)

write(
    "fw_digits.yaml",
    M1 + "suites:\n  safety-mc: {sample: ２}\n  safety-prompts: {sample: 2}\njudge: {}\nout: out\n",
)
case(
    "fullwidth-digits",
    run("fw_digits.yaml"),
    "accept",
    "a full-width digit typed by a Chinese input method (`２`) is the number 2 (Chinese-aware input)",
    plan={"suites.safety-mc.sample": 2},
)

write(
    "key_env_set.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    api_key_env: CVR_TEST_KEY\n"
    + SMALL
    + "out: out\n",
)
case(
    "api-key-env-set",
    dry("key_env_set.yaml"),
    "accept",
    "docs/run.md: api_key_env names a variable that is set: accepted, and the key is never printed",
    env={"CVR_TEST_KEY": "sk-cvr-secret-0123456789"},
    output_lacks=["sk-cvr-secret-0123456789"],
)

write("eval.YML", M1 + SMALL + "out: out\n")
case("upper-extension", run("eval.YML"), "accept", "a `.YML` file name is YAML too", plan={"out": "out"})

write(
    "stop_list.yaml",
    'models:\n  - name: m1\n    spec: openai:test-model\n    settings:\n      stop:\n        - "\\n\\n"\n'
    "        - 。\n      temperature: 0.5\n      top_p: 0.8\n" + SMALL + "out: out\n",
)
case(
    "stop-list-escapes",
    run("stop_list.yaml"),
    "accept",
    "escapes in double-quoted strings and Chinese punctuation as stop strings",
    plan={"models[0].settings.stop": ["\n\n", "。"], "models[0].settings.top_p": 0.8},
)

# ---------------------------------------------------------------------------------------------------
# Mistakes: refused with FILE, LINE and FIELD named, nothing written (the cases run without --dry-run,
# so a wrongly accepted config would really run and leave `out/` behind).
# ---------------------------------------------------------------------------------------------------

write("typo_models.yaml", "modles:\n  - name: m1\n    spec: openai:test-model\n" + SMALL + "out: out\n")
case(
    "typo-modles",
    run("typo_models.yaml"),
    "error",
    "docs/run.md: unknown keys are errors; `modles` is named with its line",
    names=err("typo_models.yaml", 1, "modles"),
    absent=["out"],
)

write(
    "typo_judge.yaml", M1 + "suites:\n  safety-mc: {sample: 2}\njudge_modle: openai:x\njudge: {}\nout: out\n"
)
case(
    "typo-judge-modle",
    run("typo_judge.yaml"),
    "error",
    "an unknown top-level key: a typo is never silently a default",
    names=err("typo_judge.yaml", 6, "judge_modle"),
    absent=["out"],
)

write(
    "typo_nested.yaml",
    M1 + "suites:\n  safety-prompts: {sample: 2}\njudge:\n  safety:\n    spce: openai:judge-model\n"
    "    rubric: cvalues-safety\nout: out\n",
)
case(
    "typo-judge-spce",
    run("typo_nested.yaml"),
    "error",
    "a typo inside the judge names its dotted path",
    names=err("typo_nested.yaml", 8, "judge.safety.spce"),
    absent=["out"],
)

write("models_mapping.yaml", "models:\n  name: m1\n  spec: openai:test-model\n" + SMALL + "out: out\n")
case(
    "models-mapping-not-list",
    run("models_mapping.yaml"),
    "error",
    "docs/run.md: models is a list; a mapping (one model without `- `) is named",
    names=err("models_mapping.yaml", 2, "models"),
    absent=["out"],
)

write(
    "settings_list.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    settings:\n      - max_tokens: 64\n"
    + SMALL
    + "out: out\n",
)
case(
    "settings-list",
    run("settings_list.yaml"),
    "error",
    "settings is a mapping; a list there is named",
    names=err("settings_list.yaml", 5, "models[0].settings"),
    absent=["out"],
)

for cid, value, why in [
    ("sample-zero", "0", "a sample of 0 would run nothing"),
    ("sample-negative", "-5", "a negative sample"),
    ("sample-fraction", "2.5", "a sample of 2.5 pairs"),
    ("sample-words", "fifty", "a sample in words"),
]:
    name = f"{cid.replace('-', '_')}.yaml"
    write(name, M1 + f"suites:\n  safety-mc:\n    sample: {value}\njudge: {{}}\nout: out\n")
    case(cid, run(name), "error", why, names=err(name, 6, "suites.safety-mc.sample"), absent=["out"])

write("stages_key.yaml", M1 + SMALL + "stages: [mc-safety, gen-safty]\nout: out\n")
case(
    "stages-key",
    run("stages_key.yaml"),
    "error",
    "there is no `stages` key (docs/run.md: the suites choose the stages); a stage list would be ignored",
    names=err("stages_key.yaml", 8, "stages"),
    absent=["out"],
)

write("unknown_suite.yaml", M1 + "suites:\n  safety_mc: {sample: 2}\njudge: {}\nout: out\n")
case(
    "unknown-suite-name",
    run("unknown_suite.yaml"),
    "error",
    "a suite name that is neither built in nor an existing file (`safety_mc` for `safety-mc`)",
    names=err("unknown_suite.yaml", 5, "safety_mc"),
    absent=["out"],
)

write(
    "dup_names.yaml",
    "models:\n  - name: Qwen-7B\n    spec: openai:a\n  - name: qwen-7b\n    spec: openai:b\n"
    + SMALL
    + "out: out\n",
)
case(
    "duplicate-names-case",
    run("dup_names.yaml"),
    "error",
    "docs/run.md: names are unique case-insensitively (one folder on macOS/Windows)",
    names=err("dup_names.yaml", 4, "models[1].name"),
    absent=["out"],
)

write(
    "dup_alias.yaml",
    "models:\n  - &m\n    name: m1\n    spec: openai:test-model\n  - *m\n" + SMALL + "out: out\n",
)
case(
    "duplicate-via-alias",
    run("dup_alias.yaml"),
    "error",
    "the same model twice through an alias is a duplicate name",
    names=err("dup_alias.yaml", 5, "models[1].name"),
    absent=["out"],
)

write("bad_backend.yaml", "models:\n  - name: m1\n    spec: vllm:qwen2.5-7b\n" + SMALL + "out: out\n")
case(
    "unknown-backend",
    run("bad_backend.yaml"),
    "error",
    "docs/models.md: an unknown scheme is an error listing the accepted ones; in a config with its line",
    names=err("bad_backend.yaml", 3, "models[0].spec"),
    output_has=["openai"],
    absent=["out"],
)

write("empty_target.yaml", "models:\n  - name: m1\n    spec: 'openai:'\n" + SMALL + "out: out\n")
case(
    "empty-spec-target",
    run("empty_target.yaml"),
    "error",
    "docs/models.md: an empty target is an error",
    names=err("empty_target.yaml", 3, "models[0].spec"),
    absent=["out"],
)

KEY = "sk-live-9f8e7d6c5b4a39281706abcdef"
write(
    "inline_key.yaml",
    f"models:\n  - name: m1\n    spec: openai:test-model\n    api_key_env: {KEY}\n" + SMALL + "out: out\n",
)
case(
    "inline-key-in-api-key-env",
    run("inline_key.yaml"),
    "error",
    "docs: api_key_env is the variable holding the key, never the key; a key pasted there is refused "
    "with its line and field, and not echoed back (it would land in logs)",
    names=err("inline_key.yaml", 4, "api_key_env"),
    output_lacks=[KEY],
    absent=["out"],
)

write(
    "api_key_field.yaml",
    f"models:\n  - name: m1\n    spec: openai:test-model\n    api_key: {KEY}\n" + SMALL + "out: out\n",
)
case(
    "api-key-field",
    run("api_key_field.yaml"),
    "error",
    "`api_key:` is not a key of the config (api_key_env is); refused, and the key is not echoed",
    names=err("api_key_field.yaml", 4, "api_key"),
    output_lacks=[KEY],
    absent=["out"],
)

write("no_spec.yaml", "models:\n  - name: m1\n    settings: {max_tokens: 10}\n" + SMALL + "out: out\n")
case(
    "missing-spec",
    run("no_spec.yaml"),
    "error",
    "a model without spec names the model's line and models[0].spec",
    names=err("no_spec.yaml", 2, "models[0].spec"),
    absent=["out"],
)

write("no_name.yaml", "models:\n  - spec: openai:test-model\n" + SMALL + "out: out\n")
case(
    "missing-name",
    run("no_name.yaml"),
    "error",
    "docs/run.md lists `name` as required (no `?`): a model without one is named",
    names=err("no_name.yaml", 2, "models[0].name"),
    absent=["out"],
)

write("no_out_err.yaml", M1 + SMALL)
case(
    "missing-out",
    run("no_out_err.yaml"),
    "error",
    "no `out` and no --out: the run has nowhere documented to go",
    names=err("no_out_err.yaml", None, "out"),
)

write("empty.yaml", "")
case(
    "empty-file",
    run("empty.yaml"),
    "error",
    "an empty file names the file",
    names=err("empty.yaml", None, None),
)

write("only_comments.yaml", "# models:\n#   - name: m1\n#     spec: openai:x\n")
case(
    "comments-only",
    run("only_comments.yaml"),
    "error",
    "a file of comments only is as empty as an empty one",
    names=err("only_comments.yaml", None, None),
)

write("top_list.yaml", "- name: m1\n  spec: openai:test-model\n")
case("top-list", run("top_list.yaml"), "error", "a list at the top", names=err("top_list.yaml", 1, None))

write("top_scalar.yaml", "models openai:test-model out runs\n")
case(
    "top-scalar",
    run("top_scalar.yaml"),
    "error",
    "a file that is one plain string (colons forgotten)",
    names=err("top_scalar.yaml", None, None),
)

write("adir/keep.txt", "a folder given as the config\n")
case(
    "directory-as-config",
    run("adir"),
    "error",
    "a directory instead of a file names it",
    names=err("adir", None, None),
)

case(
    "missing-config",
    run("nope.yaml"),
    "error",
    "a config that does not exist names it",
    names=err("nope.yaml", None, None),
)

write("unreadable.yaml", M1 + SMALL + "out: out\n")
case(
    "unreadable-file",
    run("unreadable.yaml"),
    "error",
    "a file without read permission names it (skipped as root, who can read anything)",
    chmod={"unreadable.yaml": 0},
    names=err("unreadable.yaml", None, None),
    absent=["out"],
)

write("both.yaml", M1 + SMALL + "out: out\n")
case(
    "config-and-model",
    run("both.yaml", "--model", "openai:other"),
    "error",
    "`--config FILE` or `--model SPEC` (docs/run.md): both at once must not silently drop one",
    names=err(None, None, "--model"),
    absent=["out"],
)
case(
    "config-and-max-tokens",
    run("both.yaml", "--max-tokens", "100"),
    "error",
    "--max-tokens is a --model option (--help: 'With --model'); with a config it would be silently "
    "ignored, so it is refused and the config's setting named",
    names=err(None, None, "--max-tokens"),
    absent=["out"],
)

write("multi_doc.yaml", M1 + SMALL + "out: out\n---\nout: other\n")
case(
    "two-documents",
    run("multi_doc.yaml"),
    "error",
    "a second YAML document (`---`) would be silently ignored (or silently win): refused at its line",
    names=err("multi_doc.yaml", 9, None),
    absent=["out", "other"],
)

write(
    "python_tag.yaml",
    M1 + SMALL + "out: !!python/object/apply:os.getcwd []\n",
)
case(
    "python-tag",
    run("python_tag.yaml"),
    "error",
    "a Python tag is not run (safe loading) and is named with its line",
    names=err("python_tag.yaml", 8, None),
    absent=["out"],
)

write("tab_indent.yaml", "models:\n  - name: m1\n\t  spec: openai:test-model\n" + SMALL + "out: out\n")
case(
    "tab-indentation",
    run("tab_indent.yaml"),
    "error",
    "a tab used for indentation (YAML forbids it) names its line",
    names=err("tab_indent.yaml", 3, None),
    output_has=["tab"],
    absent=["out"],
)

write(
    "ideo_indent.yaml", "models:\n  - name: m1\n\u3000\u3000spec: openai:test-model\n" + SMALL + "out: out\n"
)
case(
    "ideographic-space-indent",
    run("ideo_indent.yaml"),
    "error",
    "docs/run.md: an ideographic space used for indentation is pointed out with its line",
    names=err("ideo_indent.yaml", 3, None),
    absent=["out"],
)

write(
    "fw_colon_nested.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    settings:\n      max_tokens：64\n"
    + SMALL
    + "out: out\n",
)
case(
    "fullwidth-colon-nested",
    run("fw_colon_nested.yaml"),
    "error",
    "docs/run.md: a full-width colon where YAML needs `:` is pointed out, here nested in settings",
    names=err("fw_colon_nested.yaml", 5, None),
    output_has=["："],
    absent=["out"],
)

write("conc_zero.yaml", M1 + SMALL + "out: out\nconcurrency: 0\n")
case(
    "concurrency-zero",
    run("conc_zero.yaml"),
    "error",
    "no request could ever be in flight",
    names=err("conc_zero.yaml", 9, "concurrency"),
    absent=["out"],
)

write(
    "model_conc_neg.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    concurrency: -2\n" + SMALL + "out: out\n",
)
case(
    "model-concurrency-negative",
    run("model_conc_neg.yaml"),
    "error",
    "a model's own concurrency below 1",
    names=err("model_conc_neg.yaml", 4, "models[0].concurrency"),
    absent=["out"],
)

write(
    "top_p.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    settings:\n      temperature: 0.7\n"
    "      top_p: 1.5\n" + SMALL + "out: out\n",
)
case(
    "top-p-out-of-range",
    run("top_p.yaml"),
    "error",
    "top_p is a probability",
    names=err("top_p.yaml", 6, "models[0].settings.top_p"),
    absent=["out"],
)

write(
    "neg_temp.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    settings: {temperature: -0.5}\n"
    + SMALL
    + "out: out\n",
)
case(
    "negative-temperature",
    run("neg_temp.yaml"),
    "error",
    "a negative temperature",
    names=err("neg_temp.yaml", 4, "models[0].settings.temperature"),
    absent=["out"],
)

write(
    "settings_typo.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    settings:\n      max_token: 64\n"
    + SMALL
    + "out: out\n",
)
case(
    "settings-typo",
    run("settings_typo.yaml"),
    "error",
    "`max_token` for `max_tokens` would silently leave 512",
    names=err("settings_typo.yaml", 5, "max_token"),
    absent=["out"],
)

write(
    "option_typo.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    options:\n      timout: 30\n"
    + SMALL
    + "out: out\n",
)
case(
    "backend-option-typo",
    run("option_typo.yaml"),
    "error",
    "docs/models.md: an unknown backend option is an error; in a config it is named with its line before "
    "any work (not a model 'that cannot be loaded' halfway through the run)",
    names=err("option_typo.yaml", 5, "timout"),
    absent=["out"],
)

write(
    "option_wrong_backend.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    options: {device: cuda, dtype: bfloat16}\n"
    + SMALL
    + "out: out\n",
)
case(
    "option-for-other-backend",
    run("option_wrong_backend.yaml"),
    "error",
    "`device` is an hf: option; an openai: model does not take it (docs/models.md: unknown option)",
    names=err("option_wrong_backend.yaml", 4, "device"),
    absent=["out"],
)

write(
    "rubric_level.yaml",
    M1 + "suites:\n  responsibility-prompts: {sample: 2}\njudge:\n  responsibility:\n"
    "    spec: openai:judge-model\n    rubric: qwen3guard\nout: out\n",
)
case(
    "rubric-wrong-level",
    run("rubric_level.yaml"),
    "error",
    "docs/run.md: a safety rubric for the responsibility judge is named",
    names=err("rubric_level.yaml", 9, "judge.responsibility.rubric"),
    absent=["out"],
)

write(
    "judge_samples_greedy.yaml",
    M1 + "suites:\n  safety-prompts: {sample: 2}\njudge:\n  safety:\n    spec: openai:judge-model\n"
    "    rubric: cvalues-safety\n    samples: 3\nout: out\n",
)
case(
    "judge-samples-greedy",
    run("judge_samples_greedy.yaml"),
    "error",
    "docs/judge.md: samples need temperature > 0 (greedy samples would be three copies of one reading)",
    names=err("judge_samples_greedy.yaml", 10, "judge.safety.samples"),
    absent=["out"],
)

write(
    "judge_samples_zero.yaml",
    M1 + "suites:\n  safety-prompts: {sample: 2}\njudge:\n  safety:\n    spec: openai:judge-model\n"
    "    rubric: cvalues-safety\n    samples: 0\n    temperature: 0.5\nout: out\n",
)
case(
    "judge-samples-zero",
    run("judge_samples_zero.yaml"),
    "error",
    "a judge asked 0 times",
    names=err("judge_samples_zero.yaml", 10, "judge.safety.samples"),
    absent=["out"],
)

write(
    "slash_name.yaml",
    "models:\n  - name: Qwen/Qwen2.5-7B\n    spec: openai:test-model\n" + SMALL + "out: out\n",
)
case(
    "slash-in-name",
    run("slash_name.yaml"),
    "error",
    "docs/run.md: no slashes in a name (it is a folder)",
    names=err("slash_name.yaml", 2, "models[0].name"),
    absent=["out", "Qwen"],
)

write("empty_out.yaml", M1 + SMALL + 'out: ""\n')
case(
    "empty-out",
    run("empty_out.yaml"),
    "error",
    "an empty out would write into the working directory",
    names=err("empty_out.yaml", 8, "out"),
)

write(
    "base_url_scheme.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    base_url: 127.0.0.1:8000/v1\n"
    + SMALL
    + "out: out\n",
)
case(
    "base-url-no-scheme",
    run("base_url_scheme.yaml"),
    "error",
    "a base_url without http:// cannot be reached; named before any work",
    names=err("base_url_scheme.yaml", 4, "models[0].base_url"),
    absent=["out"],
)

write("empty_suites.yaml", M1 + "suites: {}\njudge: {}\nout: out\n")
case(
    "suites-empty-mapping",
    run("empty_suites.yaml"),
    "error",
    "`suites: {}` names no suite: a run with nothing to do is a mistake, not the built-in four",
    names=err("empty_suites.yaml", 4, "suites"),
    absent=["out"],
)

write(
    "judge_commented.yaml",
    M1 + "suites:\n  safety-prompts: {sample: 2}\njudge:\n  # safety: {spec: openai:judge-model}\nout: out\n",
)
case(
    "judge-all-commented-out",
    run("judge_commented.yaml"),
    "error",
    "`judge:` with every entry commented out is null: neither 'left out' (default judge) nor `{}` (none) "
    "is clearly meant, so it is refused with its line",
    names=err("judge_commented.yaml", 6, "judge"),
    absent=["out"],
)

write(
    "bad_alias.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    settings: *defaults\n" + SMALL + "out: out\n",
)
case(
    "undefined-alias",
    run("bad_alias.yaml"),
    "error",
    "an alias to an anchor never defined names its line",
    names=err("bad_alias.yaml", 4, None),
    output_has=["defaults"],
    absent=["out"],
)

write(
    "key_env_unset.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    api_key_env: CVR_UNSET_KEY\n"
    + SMALL
    + "out: out\n",
)
case(
    "api-key-env-unset",
    run("key_env_unset.yaml"),
    "error",
    "docs/run.md preflight: an api_key_env that is not set is a gap, named",
    names=err(None, None, "CVR_UNSET_KEY"),
    absent=["out"],
)

write("mode_gen.yaml", M1 + "suites:\n  safety-prompts: {sample: 2, mode: logprob}\njudge: {}\nout: out\n")
case(
    "mode-on-open-suite",
    run("mode_gen.yaml"),
    "error",
    "docs/run.md: `mode` is for multi-choice suites only; on open prompts it would be silently ignored",
    names=err("mode_gen.yaml", 5, "mode"),
    absent=["out"],
)

write("mode_typo.yaml", M1 + "suites:\n  safety-mc: {sample: 2, mode: logprobs}\njudge: {}\nout: out\n")
case(
    "mode-typo",
    run("mode_typo.yaml"),
    "error",
    "docs/run.md: mode is auto/generate/logprob/both",
    names=err("mode_typo.yaml", 5, "suites.safety-mc.mode"),
    absent=["out"],
)

write(
    "sub/replay_confdir.yaml",
    "models:\n  - name: r\n    spec: replay:only_here.jsonl\n" + SMALL + "out: out\n",
)
write("sub/only_here.jsonl", '{"id": "x1", "response": "回复1"}\n')
case(
    "replay-relative-to-config-dir",
    run("sub/replay_confdir.yaml"),
    "error",
    "docs/run.md: paths are relative to where the command runs; a file only beside the config is "
    "missing, named with the line and field",
    names=err("replay_confdir.yaml", 3, "only_here.jsonl"),
    absent=["out"],
)

write("suite_fw_space.yaml", M1 + "suites:\n  safety-mc\u3000: {sample: 2}\njudge: {}\nout: out\n")
case(
    "suite-key-ideographic-space",
    run("suite_fw_space.yaml"),
    "error",
    "a suite key ending in an ideographic space is not `safety-mc`; named with its line",
    names=err("suite_fw_space.yaml", 5, "safety-mc"),
    absent=["out"],
)

write(
    "x_defaults.yaml",
    "x-defaults: &defaults {max_tokens: 64}\n"
    "models:\n  - name: m1\n    spec: openai:test-model\n    settings: *defaults\n" + SMALL + "out: out\n",
)
case(
    "x-extension-key",
    run("x_defaults.yaml"),
    "error",
    "docs/run.md: every unknown key is an error, also a docker-compose style `x-` key holding anchors",
    names=err("x_defaults.yaml", 1, "x-defaults"),
    absent=["out"],
)

write(
    "source_unknown.yaml",
    M1 + SMALL + "data:\n  source_files: {no-such-source: x.jsonl}\nout: out\n",
)
case(
    "data-unknown-source",
    run("source_unknown.yaml"),
    "error",
    "data.source_files keys are pinned source ids; an unknown one is named",
    names=err("source_unknown.yaml", 9, "no-such-source"),
    absent=["out"],
)

write(
    "many_errors.yaml",
    "models:\n  - name: m1\n    spec: openai:test-model\n    settings: {max_tokens: 0}\n"
    "suites:\n  safety-mc: {sampel: 2}\njudge: {}\nout: out\n",
)
case(
    "all-problems-at-once",
    run("many_errors.yaml"),
    "error",
    "docs/run.md: all problems are listed at once",
    names=err("many_errors.yaml", 6, "sampel"),
    output_has=["models[0].settings.max_tokens", "many_errors.yaml:4"],
    absent=["out"],
)

(HERE / "cases.jsonl").write_text(
    "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in CASES), encoding="utf-8"
)
print(f"{len(CASES)} cases")
