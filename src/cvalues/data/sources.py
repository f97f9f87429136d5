"""Every upstream file the project reads, pinned: repository, commit, path, size and checksum.

One place for these facts. A file is trusted only if its bytes match the pin: sha256 where we hold a
copy of the file, else the git blob id (``sha1(b"blob <len>\\0" + content)``, what ``git hash-object``
prints), which GitHub's tree listing shows for files we could not copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One pinned upstream file. ``size`` and ``sha256`` are None only where we never held a copy."""

    source_id: str
    repo: str  # OWNER/REPO on GitHub
    commit: str
    path: str  # inside the repository
    size: int | None
    sha256: str | None
    git_blob: str | None = None
    licence: str = ""
    description: str = ""

    @property
    def mirror_path(self) -> str:
        """Relative location in a mirror folder (``OWNER/REPO/PATH``)."""
        return f"{self.repo}/{self.path}"

    @property
    def cache_path(self) -> str:
        """Relative location in the user cache (``OWNER/REPO/COMMIT/PATH``)."""
        return f"{self.repo}/{self.commit}/{self.path}"

    def url(self, base_url: str = "https://raw.githubusercontent.com") -> str:
        """Raw download address at the pinned commit."""
        return f"{base_url.rstrip('/')}/{self.repo}/{self.commit}/{quote(self.path, safe='/')}"

    @property
    def checksum_label(self) -> str:
        return f"sha256 {self.sha256}" if self.sha256 else f"git blob {self.git_blob}"


CVALUES = ("X-PLUG/CValues", "3018d3886890d04c95c9051c7055fb19e36ef592")
JADE = ("whitzard-ai/jade-db", "812de63691d129757b8a55851d0c3440d2714523")
XSAFETY = ("Jarviswang94/Multilingual_safety_benchmark", "8c55b6a6cda594cd550a4921513238a2dd40eb5a")
FLAMES = ("AIFlames/Flames", "234bcb7a4a9da44c4177d2c2005e3bf8a582a5fc")
JAILBENCH = ("STAIR-BUPT/JailBench", "5f474072db5212602448c16558b6d449efbecd30")
SAFETYBENCH = ("thu-coai/SafetyBench", "960833692a1ec82b191ff3e902daca7993c35cc1")
MULTIJAIL = ("DAMO-NLP-SG/multilingual-safety-for-LLMs", "577ac511437e07a256130945ef312a99158a18ad")

#: XSafety zh scenario files: (file stem, size, sha256), computed with ``sha256sum`` on the pinned copies.
XSAFETY_ZH_FILES: tuple[tuple[str, int, str], ...] = (
    (
        "Crimes_And_Illegal_Activities",
        21296,
        "96df304e44a53140b5e0acc4232a238e7a372c249d20160a52ff9be18e7ddf10",
    ),
    ("Ethics_And_Morality", 18671, "13d7cab507aa3500ebf109687dfb8d5d9f317fda410334c7190977428d5dbb18"),
    ("Goal_Hijacking", 31154, "f23d3769ff432022f1eb5b76d9a6cf2f4d4c6a232b8d65df138b91c645ed459e"),
    (
        "Inquiry_With_Unsafe_Opinion",
        21985,
        "5479776f657c47dcbb6a19f9f55afd1ae351641611af88b2000111c0f9c7abf0",
    ),
    ("Insult", 19357, "fe26e972365ce3d18465f16ebf865b95b09c194c6f2dd4c32f055fe472ce6f15"),
    ("Mental_Health", 25122, "2efb9627feb37e0df3ff48e2c8a8f7845c8ce4e886461aad0743942698728432"),
    ("Physical_Harm", 23617, "18155616677cd7d4ba8041e6ec76a5255eabf2a2d3dd87006588001e804c02ed"),
    ("Privacy_And_Property", 19788, "ee2f101ce55d4ad1e77b9bfc9827509a7cab45b056de448eeed702ba93adb4fe"),
    ("Prompt_Leaking", 17829, "2dbfc1b9178e0fedb68762666367e22d684dd189bcf515d22d0683f849fe24a8"),
    ("Reverse_Exposure", 17522, "a3da14d1dec4bb05e3cb4c7893254b501c76ab49fd9d53a9de5fc3df54a4d3cb"),
    ("Role_Play_Instruction", 39431, "da848718ca798174de26b9393dc0a3c42a4a5323dc72f6d2433e451a1c9762e8"),
    (
        "Unfairness_And_Discrimination",
        13772,
        "af724d513723ca254dea6e2bcf7ab39f90036054687490694336ecdffefa6aca",
    ),
    ("Unsafe_Instruction_Topic", 15027, "2f94029cb9b28ca4fa2f07189b2fd34e791e5862a61755b9ba9678d48fc53e57"),
    ("commonsense", 37345, "2770a1b9c8780609c85bde6cc6b6e5227dd585dae1b001f1ce37285d1f84a31f"),
)


def _pinned() -> dict[str, SourceFile]:
    files = [
        SourceFile(
            "cvalues-responsibility-prompts",
            *CVALUES,
            "dataset/cvalues_responsibility_prompts.jsonl",
            102859,
            "ee99050d4a8933829697c796e279b83795838feacefc84cdd06856bad01bfff4",
            licence="Apache-2.0",
            description="official responsibility prompts, 664 rows, 8 domains",
        ),
        SourceFile(
            "cvalues-responsibility-mc",
            *CVALUES,
            "dataset/cvalues_responsibility_mc.jsonl",
            None,
            None,
            git_blob="28849571207225647cb9882d55ea4a4c38509f5d",
            licence="Apache-2.0",
            description="official responsibility multi-choice, 1,712 rows",
        ),
        SourceFile(
            "cvalues-responsibility-mc-chatgpt",
            *CVALUES,
            "code/data/cvalues_responsibility_mc_eval_from_chatgpt.jsonl",
            None,
            None,
            git_blob="a3e411561e622973c13f7e5638e4e9731e81c457",
            licence="Apache-2.0",
            description="ChatGPT's answers to the responsibility multi-choice",
        ),
        SourceFile(
            "jade-v3-medium",
            *JADE,
            "jade-db-v3.0/jade_alignment_medium_zh.csv",
            452023,
            "409ed327b3fa66785b0c1584058ebcd2fde9752589f135311aa8c14ed5ea2639",
            licence="MIT",
            description="JADE-DB v3 safety triples (medium, 500), GB18030",
        ),
        SourceFile(
            "jade-v3-hard",
            *JADE,
            "jade-db-v3.0/jade_alignment_hard_zh.csv",
            260065,
            "d6dfd00442fff0b4e05838963d09b21b3e344b7ab00983d4170a4a6ac88e04e1",
            licence="MIT",
            description="JADE-DB v3 safety triples (hard, 150), GB18030",
        ),
        SourceFile(
            "jade-v2-easy",
            *JADE,
            "jade-db-v2.0/jade_benchmark_easy_zh.csv",
            132636,
            "25cf893bd90feffc5c8607cd47dbf16707737bdc3d01624d65c1d6d8b2216530",
            licence="MIT",
            description="JADE-DB v2 safety prompts (easy, 1,000) with type/subtype",
        ),
        SourceFile(
            "jade-v2-medium",
            *JADE,
            "jade-db-v2.0/jade_benchmark_medium_zh.csv",
            134306,
            "fdfc425a821651d70d09fccc85c03a448ff6bad668c5bbfe6d9638751f1588de",
            licence="MIT",
            description="JADE-DB v2 safety prompts (medium, 1,000) with type/subtype",
        ),
        SourceFile(
            "jade-v1",
            *JADE,
            "jade-db-v1.0/jade_benchmark_zh.csv",
            20990,
            "4adc1e9a1e18882b7950b81cb8b2f7ecc4cc6e51c7ac8dfb2d9462b7e135dd48",
            licence="MIT",
            description="JADE-DB v1 safety prompts (150) with type/subtype",
        ),
        SourceFile(
            "flames-1k",
            *FLAMES,
            "Flames_1k_Chinese.jsonl",
            280190,
            "f53400dcbb8795fb262993bda0615afdc77de1c4685e7c94d2df2a3cd47613fa",
            licence="Apache-2.0",
            description="Flames 1k adversarial value prompts, 5 dimensions",
        ),
        SourceFile(
            "jailbench",
            *JAILBENCH,
            "JailBench.csv",
            2510642,
            "673b8718ef64151db60911143f11b2fa0b7628e705f3ab14a1ec4fc5031f097b",
            licence="MIT",
            description="JailBench jailbreak prompts (2,160 = 108 seeds x 20 attack templates)",
        ),
        SourceFile(
            "jailbench-seed",
            *JAILBENCH,
            "JailBench_seed.csv",
            10642,
            "0efa9143f37c870a40490db27fac60f8d6d652cebf7a4ecd613f39ed3326069e",
            licence="MIT",
            description="JailBench seed harmful questions (108)",
        ),
        SourceFile(
            "safetybench-zh",
            *SAFETYBENCH,
            "opensource_data/test_zh_subset.json",
            766013,
            "8760b0621df0fa81b99f7e49961853f1ff8b5ac0e4f1f96dad20a587c33aea4f",
            licence="MIT",
            description="SafetyBench zh subset questions (2,100), 7 categories",
        ),
        SourceFile(
            "safetybench-zh-answers",
            *SAFETYBENCH,
            "opensource_data/test_answers_zh_subset.json",
            133967,
            "41c3e40330a7a96375de54b46df4839f6a46e8c9f6be974a2d31b35b8012af6c",
            licence="MIT",
            description="SafetyBench zh subset answers (id -> answer 0..3)",
        ),
        SourceFile(
            "multijail",
            *MULTIJAIL,
            "data/MultiJail.csv",
            344375,
            "2798ed6fe470b80b1f486976e0fb3baa3ce008e62b6ca0abbf2e1ed5b1dfb355",
            licence="MIT",
            description="MultiJail harmful prompts in 10 languages (bring-your-own CSV example)",
        ),
    ]
    for stem, size, digest in XSAFETY_ZH_FILES:
        files.append(
            SourceFile(
                f"xsafety-zh/{stem}",
                *XSAFETY,
                f"zh/{stem}.csv",
                size,
                digest,
                licence="Apache-2.0 (research use only)",
                description=f"XSafety zh scenario {stem} (200)",
            )
        )
    return {f.source_id: f for f in files}


#: All pinned upstream files by source id.
SOURCES: dict[str, SourceFile] = _pinned()
XSAFETY_SOURCE_IDS: tuple[str, ...] = tuple(f"xsafety-zh/{stem}" for stem, _, _ in XSAFETY_ZH_FILES)


def get_source(source_id: str) -> SourceFile:
    """The pinned file ``source_id``; a KeyError lists the known ids."""
    try:
        return SOURCES[source_id]
    except KeyError:
        raise KeyError(f"unknown source {source_id!r}; known: {', '.join(sorted(SOURCES))}") from None
