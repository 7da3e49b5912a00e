"""Visitor questions for the Python 3.11 documentation (Debian's python3.11-doc package).

Pages are paths under the HTML root; see `bench.questions` for what the fields mean.
"""

from __future__ import annotations

from bench.questions import Question, QuestionSet, h, q, u, uh
from bench.questions.python311_fresh import FRESH

SITE_ROOT = "/usr/share/doc/python3.11/html"

ANSWERABLE: tuple[Question, ...] = (
    # --- getting started, tutorial ---
    q(
        "how do i give each project its own separate set of installed packages so they "
        "dont clash with the system python",
        "tutorial/venv.html library/venv.html",
        "-m venv",
    ),
    h(
        "pip puts packages into the wrong python (I have a few versions) and without sudo I "
        "get permission errors, what's the right way to install",
        "installing/index.html",
        "-m pip",
        "--user",
    ),
    q(
        "0.1 + 0.2 gives 0.30000000000000004 ... is my python broken??",
        "tutorial/floatingpoint.html faq/design.html",
        "representation error",
        "binary fraction",
    ),
    q(
        "my function has a default argument that's an empty list and it keeps growing "
        "every time I call it, what is going on",
        "tutorial/controlflow.html faq/programming.html reference/compound_stmts.html",
        "evaluated only once",
        "shared between",
    ),
    h(
        "Reading a 5GB log file with readlines() eats all my RAM. Better way to go "
        "through it one line at a time?",
        "tutorial/inputoutput.html",
        "memory efficient",
        "for line in f",
    ),
    q(
        "what is the point of that if __name__ == '__main__' thing at the bottom of scripts",
        "library/__main__.html tutorial/modules.html",
        "top-level code environment",
    ),
    h(
        "when should i use a tuple instead of a list",
        "tutorial/datastructures.html faq/design.html library/stdtypes.html",
        "immutable",
        "heterogeneous",
    ),
    q(
        "how do I find the items two lists have in common",
        "tutorial/datastructures.html library/stdtypes.html",
        "intersection",
    ),
    q(
        "is there something like switch/case in python?",
        "tutorial/controlflow.html faq/design.html reference/compound_stmts.html",
        "match ... case",
        "match statement",
    ),
    h(
        "attributes starting with two underscores get weird names like _Foo__bar when I "
        "look at the object, why",
        "tutorial/classes.html reference/expressions.html",
        "name mangling",
    ),
    h(
        "make my .py file runnable like a normal command on linux without typing python in front",
        "tutorial/appendix.html using/unix.html faq/library.html",
        "chmod +x",
        "#!",
    ),
    q(
        "i want some imports and helper functions loaded automatically every time I open "
        "the interactive prompt",
        "tutorial/appendix.html using/cmdline.html",
        "PYTHONSTARTUP",
    ),
    q(
        "what is yield and how is a generator different from a function returning a list",
        "tutorial/classes.html glossary.html reference/expressions.html",
        "resumes where it left off",
    ),
    # --- FAQ-style problems ---
    h(
        "I made lambdas inside a for loop but every one of them returns the value from "
        "the last iteration",
        "faq/programming.html",
        "n=x",
    ),
    q(
        "assigning to a variable inside a function breaks reading the module-level variable "
        "with the same name, UnboundLocalError",
        "faq/programming.html reference/executionmodel.html",
        "global x",
        "nonlocal",
    ),
    h(
        "why is -7 // 2 equal to -4 and not -3?",
        "faq/programming.html library/stdtypes.html reference/expressions.html",
        "floor",
    ),
    q(
        "round(2.5) returns 2 and round(3.5) returns 4, that can't be right",
        "library/functions.html",
        "even choice",
    ),
    h(
        "is there a linter or static checker that can catch my bugs before running",
        "faq/programming.html",
        "pylint",
        "pyflakes",
        "mypy",
    ),
    h(
        "how does python free memory, do i need to delete objects myself",
        "faq/design.html glossary.html",
        "reference counting",
    ),
    q(
        "why do methods have to take self explicitly",
        "faq/design.html",
        "self.x",
    ),
    q(
        "a == b is True but a is b is False for my strings, what's the difference",
        "faq/programming.html reference/expressions.html",
        "identity",
    ),
    # --- built-ins, data types ---
    q(
        "how can i make a dict keep the order in which I put the keys in",
        "library/stdtypes.html library/collections.html",
        "insertion order",
        "OrderedDict",
    ),
    q(
        "counting how often each word shows up in a big list of words",
        "library/collections.html",
        "Counter",
        "most_common",
    ),
    h(
        "I need a fast queue where I keep adding on one end and taking from the other, "
        "list.pop(0) is slow",
        "library/collections.html tutorial/datastructures.html tutorial/stdlib2.html",
        "deque",
        "popleft",
    ),
    q(
        "want something like a tuple but where I can get the fields by name, p.x p.y",
        "library/collections.html library/typing.html",
        "namedtuple",
    ),
    h(
        "strip a known prefix like 'www.' off a string (lstrip removes too much)",
        "library/stdtypes.html",
        "removeprefix",
    ),
    q(
        "pad numbers with zeros so 7 prints as 007",
        "library/stdtypes.html tutorial/inputoutput.html library/string.html",
        "zfill",
    ),
    h(
        "show big numbers with commas like 1,234,567 in an f-string",
        "library/string.html whatsnew/3.1.html",
        "thousands separator",
    ),
    q(
        "int('9' * 5000) throws ValueError about exceeding a limit, worked in older versions",
        "library/stdtypes.html whatsnew/3.11.html",
        "4300",
        "set_int_max_str_digits",
    ),
    h(
        "difference between str and bytes, how do I turn one into the other",
        "howto/unicode.html library/stdtypes.html",
        "str.encode()",
        "bytes.decode()",
    ),
    q(
        "getting UnicodeDecodeError, can't decode byte 0xff, when I open a text file",
        "howto/unicode.html library/functions.html",
        "encoding=",
        "errors=",
    ),
    q(
        "I'm adding up prices and floats give answers like 2.9999999. what should i use for money",
        "library/decimal.html",
        "Decimal",
    ),
    q(
        "exact fractions like 1/3 without rounding",
        "library/fractions.html",
        "Fraction",
    ),
    h(
        "average and median of a list of numbers, without installing numpy",
        "library/statistics.html",
        "median",
        "mean(",
    ),
    # --- classes, data model ---
    q(
        "what does __slots__ buy me and what's the catch",
        "reference/datamodel.html howto/descriptor.html",
        "__dict__",
    ),
    h(
        "how do I make my own class work with len() and in a for loop",
        "reference/datamodel.html",
        "__len__",
        "__iter__",
    ),
    q(
        "let my object be used in a with-block so cleanup always runs",
        "reference/datamodel.html library/contextlib.html library/stdtypes.html "
        "reference/compound_stmts.html",
        "__enter__",
        "contextmanager",
    ),
    q(
        "classmethod vs staticmethod, what's the actual difference",
        "library/functions.html",
        "classmethod",
        "staticmethod",
    ),
    h(
        "in which order are parent classes searched when two of them define the same "
        "method (diamond inheritance)",
        "tutorial/classes.html library/functions.html glossary.html",
        "method resolution order",
    ),
    q(
        "force subclasses to implement a method or they can't be instantiated",
        "library/abc.html",
        "abstractmethod",
    ),
    q(
        "how do properties actually work under the hood, __get__ and friends",
        "howto/descriptor.html",
        "__get__",
    ),
    q(
        "dataclass complains mutable default is not allowed when I give a field = []",
        "library/dataclasses.html",
        "default_factory",
    ),
    h(
        "make dataclass instances read-only so nobody can change a field after creation",
        "library/dataclasses.html",
        "frozen=True",
    ),
    h(
        "define a bunch of named constants like RED GREEN BLUE with auto numbering",
        "library/enum.html howto/enum.html",
        "auto()",
    ),
    # --- functools, itertools, algorithms ---
    q(
        "remember the results of a slow function so repeat calls with same args are instant",
        "library/functools.html faq/programming.html",
        "lru_cache",
        "@cache",
    ),
    q(
        "my decorator makes every function show up as 'wrapper' in help() and tracebacks",
        "library/functools.html",
        "wraps",
    ),
    h(
        "freeze some arguments of a function and get a new callable",
        "library/functools.html",
        "partial",
    ),
    q(
        "attribute computed on first access and then stored, lru_cache on a method feels wrong",
        "library/functools.html faq/programming.html",
        "cached_property",
    ),
    q(
        "sort a list of dicts by one key, biggest first",
        "howto/sorting.html",
        "reverse=True",
        "itemgetter",
    ),
    h(
        "sorting words with accents comes out in the wrong order for my language",
        "howto/sorting.html library/locale.html",
        "strxfrm",
    ),
    q(
        "every combination of items from two lists, like nested for loops",
        "library/itertools.html",
        "product(",
    ),
    h(
        "keep a list sorted while inserting new items without re-sorting each time",
        "library/bisect.html tutorial/stdlib2.html",
        "insort",
    ),
    q(
        "get the 10 smallest values from a huge list without sorting all of it",
        "library/heapq.html",
        "nsmallest",
    ),
    q(
        "pick random items but some should be more likely than others",
        "library/random.html",
        "weights",
        "choices",
    ),
    # --- files, os, paths ---
    q(
        "whats the right way to stick a folder and a filename together so it works on "
        "both windows and linux",
        "library/os.path.html library/pathlib.html",
        "os.path.join",
        "joinpath",
    ),
    q(
        "list every .csv file in a folder including all subfolders",
        "library/pathlib.html library/glob.html",
        "rglob",
        "recursive",
    ),
    h(
        "need a throwaway folder for a test that gets deleted automatically afterwards",
        "library/tempfile.html",
        "TemporaryDirectory",
    ),
    q(
        "os.rmdir fails because the directory is not empty",
        "library/shutil.html library/os.html",
        "rmtree",
    ),
    q(
        "copy a whole folder with everything inside to another place",
        "library/shutil.html",
        "copytree",
    ),
    h(
        "compress a directory into a .zip from my script",
        "library/shutil.html library/zipfile.html",
        "make_archive",
        "ZipFile",
    ),
    q(
        "reading an environment variable but falling back to a default if it isn't set",
        "library/os.html",
        "getenv",
        "os.environ",
    ),
    # --- text formats, parsing ---
    q(
        "csv has commas inside quoted fields and my split(',') breaks",
        "library/csv.html",
        "csv.reader",
        "quotechar",
    ),
    h(
        "Object of type datetime is not JSON serializable",
        "library/json.html",
        "JSONEncoder",
        "default(",
    ),
    q(
        "parse a pyproject.toml file with only the standard library",
        "library/tomllib.html whatsnew/3.11.html",
        "tomllib",
    ),
    q(
        "read an ini style config with [sections] and key = value lines",
        "library/configparser.html",
        "ConfigParser",
    ),
    h(
        "is it dangerous to parse XML that comes from users",
        "library/xml.html",
        "billion laughs",
        "defusedxml",
    ),
    q(
        "my regex only finds stuff if it is at the very start of the text, match or search?",
        "library/re.html howto/regex.html",
        "search()",
        "beginning of the string",
    ),
    h(
        "break a URL into host, path and the ?query parameters",
        "library/urllib.parse.html",
        "urlparse",
        "parse_qs",
    ),
    q(
        "split a command line string into arguments respecting the quotes like bash does",
        "library/shlex.html",
        "shlex.split",
    ),
    q(
        "show a diff of two text files like git diff does",
        "library/difflib.html",
        "unified_diff",
    ),
    q(
        "turn '2023-04-01 13:45' style text into a datetime object",
        "library/datetime.html",
        "strptime",
        "fromisoformat",
    ),
    h(
        "convert a timestamp from UTC into Europe/Paris local time",
        "library/zoneinfo.html",
        "ZoneInfo",
    ),
    # --- storing data, security ---
    q(
        "save a python object to a file and load it back later, just for my own program",
        "library/pickle.html library/shelve.html",
        "pickle.dump",
        "shelve",
    ),
    h(
        "is it ok to unpickle files that users upload to my site?",
        "library/pickle.html",
        "not secure",
    ),
    h(
        "generate an unguessable token for a password reset link",
        "library/secrets.html",
        "token_urlsafe",
    ),
    q(
        "how should i hash user passwords before storing them",
        "library/hashlib.html",
        "pbkdf2_hmac",
        "scrypt",
    ),
    q(
        "sqlite: how do I put user values into a query without sql injection",
        "library/sqlite3.html",
        "placeholders",
    ),
    # --- concurrency ---
    q(
        "two threads adding to the same counter sometimes lose updates, how do I stop them "
        "stepping on each other",
        "library/threading.html",
        "threading.Lock",
        "acquire()",
    ),
    h(
        "threads don't make my cpu heavy number crunching any faster, how do I use all cores",
        "library/multiprocessing.html library/concurrent.futures.html glossary.html "
        "faq/library.html",
        "ProcessPoolExecutor",
        "global interpreter lock",
    ),
    q(
        "producer thread puts jobs somewhere and worker threads pick them up safely",
        "library/queue.html",
        "task_done",
    ),
    h(
        "my program freezes when the child process writes a lot of output through a pipe",
        "library/subprocess.html",
        "communicate()",
        "deadlock",
    ),
    q(
        "start a few coroutines at the same time and wait until all of them are done",
        "library/asyncio-task.html",
        "gather",
        "TaskGroup",
    ),
    q(
        "asyncio.run() errors out because a loop is already running (jupyter-ish setup)",
        "library/asyncio-runner.html",
        "another asyncio event loop is running",
    ),
    h(
        "I have a blocking function (requests/file io) that freezes my async app, how do I "
        "call it without blocking",
        "library/asyncio-task.html library/asyncio-eventloop.html",
        "to_thread",
        "run_in_executor",
    ),
    q(
        "give up on an await if it takes longer than 5 seconds",
        "library/asyncio-task.html",
        "wait_for",
        "asyncio.timeout",
    ),
    q(
        "how do I catch errors from several tasks that failed together, saw except* somewhere",
        "tutorial/errors.html library/exceptions.html reference/compound_stmts.html "
        "whatsnew/3.11.html",
        "ExceptionGroup",
    ),
    # --- debugging, testing, performance ---
    q(
        "attach extra context to an exception before re-raising it",
        "tutorial/errors.html library/exceptions.html whatsnew/3.11.html",
        "add_note",
    ),
    q(
        "how do I pause my program at some line and poke at variables",
        "library/pdb.html library/functions.html",
        "breakpoint()",
        "set_trace",
    ),
    h(
        "which functions make my script slow? I want a per function timing report",
        "library/profile.html",
        "cProfile",
    ),
    h(
        "memory usage keeps climbing, how to see which lines allocate the most",
        "library/tracemalloc.html",
        "take_snapshot",
    ),
    q(
        "how to measure reliably how long a tiny piece of code takes",
        "library/timeit.html",
        "-m timeit",
    ),
    q(
        "startup of my cli is slow, can I get a per-import timing breakdown",
        "using/cmdline.html",
        "importtime",
    ),
    q(
        "in tests, replace the function that calls a web API with a fake one",
        "library/unittest.mock.html",
        "patch()",
    ),
    h(
        "run all my unit tests from the terminal",
        "library/unittest.html",
        "-m unittest",
        "discover",
    ),
    q(
        "tracebacks in 3.11 show ^^^^^ under parts of the line, what are those",
        "whatsnew/3.11.html",
        "fine-grained error locations",
    ),
    q(
        "recursion error maximum depth exceeded, can I raise the limit?",
        "library/sys.html",
        "setrecursionlimit",
    ),
    # --- logging, cli, networking, misc stdlib ---
    q(
        "log everything to a file but only warnings to the console",
        "howto/logging-cookbook.html howto/logging.html",
        "StreamHandler",
        "FileHandler",
    ),
    q(
        "my log file grows forever, i want it to start a new one every night or at some size",
        "library/logging.handlers.html",
        "TimedRotatingFileHandler",
        "RotatingFileHandler",
    ),
    h(
        "cli tool with sub commands like git commit and git push",
        "library/argparse.html",
        "add_subparsers",
    ),
    q(
        "quick way to share files from a folder over http on my lan",
        "library/http.server.html",
        "python -m http.server",
    ),
    h(
        "send an email with a pdf attached",
        "library/email.examples.html library/email.message.html",
        "add_attachment",
    ),
    q(
        "fetch a web page in plain python, no requests library installed",
        "library/urllib.request.html howto/urllib2.html",
        "urlopen",
    ),
    q(
        "check if an ip address belongs to a subnet like 10.0.0.0/8",
        "library/ipaddress.html howto/ipaddress.html",
        "ip_network",
    ),
    h(
        "ask for a password in the terminal without it showing up as I type",
        "library/getpass.html",
        "getpass",
    ),
    q(
        "run some cleanup code when my program exits normally",
        "library/atexit.html",
        "atexit.register",
    ),
    q(
        "handle ctrl+c gracefully instead of a big traceback",
        "library/exceptions.html library/signal.html",
        "KeyboardInterrupt",
        "SIGINT",
    ),
    q(
        "call a function from a C .so / .dll without writing an extension module",
        "library/ctypes.html",
        "CDLL",
    ),
    h(
        "type hint for an argument that's either an int or None",
        "library/typing.html",
        "Optional[int]",
        "| None",
    ),
    h(
        "what is that := operator people call the walrus",
        "whatsnew/3.8.html reference/expressions.html",
        "assignment expression",
    ),
    q(
        "how do i print a variable's name and value together for debugging in an f-string",
        "whatsnew/3.8.html reference/lexical_analysis.html tutorial/inputoutput.html",
        "= specifier",
    ),
    q(
        "on windows I have several pythons installed, how do I pick which version runs",
        "using/windows.html",
        "Python Launcher for Windows",
        "py -3",
    ),
    q(
        "where does python look for modules when i import something? can I add a folder",
        "tutorial/modules.html library/sys_path_init.html library/sys.html using/cmdline.html",
        "sys.path",
        "PYTHONPATH",
    ),
    h(
        "read a data file that ships inside my own package",
        "library/importlib.resources.html",
        "files(",
    ),
    q(
        "get the version of an installed package from code",
        "library/importlib.metadata.html",
        "version(",
    ),
    q(
        "best practice for reading __annotations__ of a class",
        "howto/annotations.html library/inspect.html",
        "get_annotations",
    ),
)

UNANSWERABLE: tuple[Question, ...] = (
    u("how do I read an .xlsx workbook with its formulas and cell colours into a dataframe"),
    u("flask or fastapi for a small REST API, which one should I pick"),
    uh("what does a PyCharm professional license cost per year"),
    u("how do I deploy my python app to AWS Lambda with a custom layer"),
    u("pip install fails with externally-managed-environment on Debian 12, how to fix"),
    uh("how to train a small neural network with pytorch on my gpu"),
    u("plot a bar chart with matplotlib and save it as png"),
    u("connect to MongoDB atlas from python and insert a document"),
    u("pydantic model validation error messages are unreadable, how to customise them"),
    uh("aiohttp client session keeps leaking connections"),
    u("poetry or pipenv, which lock file should I commit"),
    u("my jupyter notebook kernel keeps dying when I load a big file"),
    uh("how do I turn on the no-GIL free-threaded mode of python 3.13"),
    u("scrape a page that needs javascript rendering using selenium"),
    u("when does python 3.11 stop getting security fixes, exact date?"),
    uh("how much do python developers earn in germany"),
    uh("kivy app build for android apk"),
    u("how do I make black and isort agree on import formatting"),
    uh("is python or go better for a high traffic backend"),
    u("which conda channel has the newest python builds"),
    u("set up a django admin page for my models"),
    # Added for calibrating the answers' I-don't-know rule (bench/answers), written before any
    # of them was asked: near the docs' subjects, answered only by other projects' docs.
    u("pandas groupby then sum one column, result as a new dataframe"),
    u("requests.get hangs forever, how do I give it a timeout"),
    u("what changed in f-strings in python 3.12"),
    u("pytest fixture with scope session vs module, which to use"),
    u("sign and verify a JWT token in python"),
    u("PyQt6 window with a button that opens a file dialog"),
    u("how many gunicorn workers should I run for my flask app"),
    u("SQLAlchemy objects expire after commit and I get DetachedInstanceError"),
    u("run python in the browser with pyscript"),
    u("best free IDE for a python beginner"),
)

PYTHON311 = QuestionSet(
    name="python311-visitors",
    site_root=SITE_ROOT,
    questions=ANSWERABLE + UNANSWERABLE + FRESH,
)
