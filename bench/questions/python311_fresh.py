"""A fresh set of visitor questions for the Python 3.11 documentation, split `"fresh"`.

Written after the tune and holdout sets had been used, by a writer who never saw how the system
does on them, on topics those sets touch little. Nobody tunes on them or reads their answers:
they are reported beside tune and holdout as the honest figure. See `bench.questions` for the
fields.
"""

from __future__ import annotations

from bench.questions import Question, f, uf

ANSWERABLE: tuple[Question, ...] = (
    # --- text, numbers, dates ---
    f(
        "i print long paragraphs in my terminal app and want them broken at 60 chars, "
        "nicely on word boundaries",
        "library/textwrap.html tutorial/stdlib2.html whatsnew/2.3.html",
        "textwrap",
    ),
    f(
        "how many days are in february 2024 and which weekday does it start on, from code",
        "library/calendar.html",
        "monthrange",
    ),
    f(
        "what's the go-to way to make a random unique id for each uploaded file",
        "library/uuid.html whatsnew/2.5.html",
        "uuid4",
    ),
    f(
        "time how long a block of my code takes, somebody told me time.time() is the wrong clock",
        "library/time.html whatsnew/3.3.html",
        "perf_counter",
        "monotonic",
    ),
    f(
        "get the current time in utc but as an aware datetime, utcnow() gives me a naive one",
        "library/datetime.html",
        "timezone.utc",
    ),
    # --- files, formats, encodings ---
    f(
        "read a .gz log file line by line in python without gunzipping it first",
        "library/gzip.html",
        "gzip.open",
    ),
    f(
        "unpacking a tar.gz somebody sent me with python, anything dangerous about that?",
        "library/tarfile.html library/shutil.html",
        "extractall",
        "untrusted sources",
    ),
    f(
        "two backup folders, which files are only in the first one and not the second",
        "library/filecmp.html",
        "dircmp",
        "left_only",
    ),
    f(
        "delete a file that may or may not exist without writing try except FileNotFoundError",
        "library/pathlib.html library/contextlib.html",
        "missing_ok",
        "suppress",
    ),
    f(
        "sha256 of a multi gigabyte file without reading the whole thing into memory",
        "library/hashlib.html whatsnew/3.11.html",
        "file_digest",
    ),
    f(
        "list of dicts -> csv file with the column names as the first line",
        "library/csv.html",
        "DictWriter",
        "writeheader",
    ),
    f(
        "prettify a minified json file straight from the shell",
        "library/json.html",
        "json.tool",
    ),
    f(
        "base64 something so it can go in a url, plain b64encode gives me + and / chars",
        "library/base64.html",
        "urlsafe_b64encode",
    ),
    f(
        "write numbers into a binary file format as little endian 4 byte ints",
        "library/struct.html tutorial/stdlib2.html",
        "struct.pack",
    ),
    f(
        'i have a string like "[1, 2, 3]" from a config file, turn it into a real list '
        "without eval",
        "library/ast.html library/functions.html",
        "literal_eval",
    ),
    f(
        "little command line tool that reads the files I pass it, or stdin when I pass none",
        "library/fileinput.html",
        "fileinput",
    ),
    # --- web, security ---
    f(
        "people typed <script> into a comment form and it ran on my generated page. "
        "how do i make their text safe",
        "library/html.html",
        "html.escape",
    ),
    f(
        "my crawler should respect robots.txt, is a given url allowed for it",
        "library/urllib.robotparser.html",
        "can_fetch",
    ),
    f(
        "check the signature on a webhook (hmac sha256) - is == fine to compare them?",
        "library/hmac.html library/secrets.html",
        "compare_digest",
    ),
    # --- errors, debugging, runtime ---
    f(
        "in my except block i want the whole traceback in the output but the program "
        "should keep going",
        "library/traceback.html library/logging.html howto/logging.html",
        "print_exc",
        "exception(",
    ),
    f(
        "some package floods my output with DeprecationWarning, how do i mute only those",
        "library/warnings.html using/cmdline.html",
        "filterwarnings",
        "simplefilter",
    ),
    f(
        "python just dies with segmentation fault, no traceback. can I see where it crashed",
        "library/faulthandler.html using/cmdline.html library/devmode.html",
        "faulthandler",
    ),
    f(
        "I changed my module file but the open python shell keeps running the old version "
        "after import",
        "library/importlib.html tutorial/modules.html faq/programming.html",
        "importlib.reload",
    ),
    f(
        "those __pycache__ folders everywhere in my repo, can python stop making them",
        "using/cmdline.html library/sys.html faq/programming.html",
        "PYTHONDONTWRITEBYTECODE",
    ),
    f(
        "do my assert checks still run if python is started with -O?",
        "reference/simple_stmts.html using/cmdline.html library/constants.html",
        "__debug__",
    ),
    f(
        "how can my code tell if it's running on windows or on linux",
        "library/platform.html library/sys.html library/os.html",
        "platform.system",
        "sys.platform",
        "os.name",
    ),
    # --- async, concurrency ---
    f(
        "RuntimeWarning coroutine was never awaited, what did I forget",
        "library/asyncio-dev.html library/asyncio-task.html",
        "create_task",
        "await the coroutine",
    ),
    f(
        "asyncio version of producer/consumer: one task makes jobs and a few worker tasks "
        "handle them",
        "library/asyncio-queue.html",
        "asyncio.Queue",
    ),
    f(
        "run an external program from inside async code and read what it prints, without "
        "freezing the loop",
        "library/asyncio-subprocess.html",
        "create_subprocess_exec",
        "create_subprocess_shell",
    ),
    # --- typing, tests, packaging, tools ---
    f(
        "type hints for a dict that always has a 'name' str and an 'age' int",
        "library/typing.html whatsnew/3.8.html",
        "TypedDict",
    ),
    f(
        "one of my unit tests can't work on windows, how do i skip it there",
        "library/unittest.html",
        "skipIf",
    ),
    f(
        "turn the >>> examples in my docstrings into tests that actually run",
        "library/doctest.html tutorial/stdlib.html",
        "testmod",
    ),
    f(
        "bundle a small app of several .py files into one file my colleagues run with python",
        "library/zipapp.html",
        "zipapp",
        ".pyz",
    ),
    f(
        "my python install has no pip at all, how do i get it",
        "library/ensurepip.html installing/index.html",
        "ensurepip",
    ),
    f(
        "start python from my own C program and run some python code in it",
        "extending/embedding.html",
        "Py_Initialize",
    ),
    f(
        "tasks depend on each other, give me an order where each comes after its dependencies",
        "library/graphlib.html",
        "TopologicalSorter",
    ),
    # --- language and odds and ends ---
    f(
        "my regex <.*> matches from the first < all the way to the last > on the line",
        "howto/regex.html library/re.html",
        "non-greedy",
    ),
    f(
        "copied a list of lists, changed an inner list and the original changed as well",
        "library/copy.html faq/programming.html",
        "deepcopy",
    ),
    f(
        "what is the slash in a signature like def f(a, b, /, c) supposed to mean",
        "tutorial/controlflow.html faq/programming.html glossary.html whatsnew/3.8.html",
        "positional-only",
    ),
    f(
        "window with a couple of buttons, standard library only, no pip installs",
        "library/tkinter.html faq/gui.html",
        "tkinter",
    ),
)

UNANSWERABLE: tuple[Question, ...] = (
    uf("beautifulsoup: get every link that has a certain css class"),
    uf("celery task should retry with exponential backoff when an api call fails"),
    uf("tensorflow can't see my nvidia gpu"),
    uf("streamlit file uploader says file too large, where is the limit set"),
    uf("fastapi dependency that gives each request its own database session"),
    uf("opencv: read frames from my webcam and show them in a window"),
    uf("pygame: detect when a sprite from one group hits a sprite from another"),
    uf("uv vs pip, which is faster for installing requirements"),
    uf(
        "scikit-learn train_test_split with stratify gives an error about the least populated class"
    ),
    uf("django rest framework: add pagination to my viewset"),
    uf("VS Code won't pick the interpreter from my virtualenv"),
    uf("what was the attendance at PyCon US 2023"),
)

FRESH: tuple[Question, ...] = ANSWERABLE + UNANSWERABLE
