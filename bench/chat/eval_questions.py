"""The answer-quality evaluation set for the python3.11-doc site.

Each answerable question names the page(s) that answer it (URL paths on the site) and key
facts: a correct answer contains at least one of them (case-insensitive). Unanswerable
questions are about things the Python documentation does not cover; the right answer to them
is the chatbot's fallback message.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    pages: tuple[str, ...]  # site paths, any of which answers the question
    key_facts: tuple[str, ...]  # a correct answer contains at least one


def _q(question: str, pages: str, *key_facts: str) -> EvalQuestion:
    return EvalQuestion(question, tuple(pages.split()), key_facts)


ANSWERABLE: tuple[EvalQuestion, ...] = (
    _q("How do I create a virtual environment?", "library/venv.html tutorial/venv.html", "-m venv"),
    _q(
        "What is the global interpreter lock?",
        "glossary.html library/threading.html",
        "one thread",
    ),
    _q(
        "Which exception is raised when a dictionary key is not found?",
        "library/exceptions.html library/stdtypes.html",
        "KeyError",
    ),
    _q("How do I sort a list of objects by an attribute?", "howto/sorting.html", "attrgetter"),
    _q(
        "What is a list comprehension?",
        "tutorial/datastructures.html glossary.html",
        "concise way to create lists",
        "compact way to process",
    ),
    _q("How do I open a URL with urllib?", "library/urllib.request.html", "urlopen"),
    _q(
        "How do I parse command line arguments?",
        "library/argparse.html howto/argparse.html",
        "ArgumentParser",
    ),
    _q("How do I generate a random integer in a range?", "library/random.html", "randint"),
    _q(
        "How do I run a subprocess and capture its output?",
        "library/subprocess.html",
        "capture_output",
        "check_output",
    ),
    _q(
        "What is a decorator?",
        "glossary.html reference/compound_stmts.html",
        "returning another function",
        "@wrapper",
    ),
    _q("How do I define a data class?", "library/dataclasses.html", "@dataclass"),
    _q(
        "Why are __init__.py files needed in packages?",
        "tutorial/modules.html reference/import.html",
        "treat directories containing the file as packages",
        "regular package",
    ),
    _q(
        "How do I write a context manager with a generator function?",
        "library/contextlib.html",
        "@contextmanager",
    ),
    _q(
        "What are formatted string literals?",
        "reference/lexical_analysis.html tutorial/inputoutput.html",
        "prefixed with 'f'",
        "f-string",
        "prefixed with f",
    ),
    _q(
        "What does the finally clause of a try statement do?",
        "tutorial/errors.html reference/compound_stmts.html",
        "clean-up",
        "executed",
    ),
    _q(
        "How do I run the top-level coroutine of an asyncio program?",
        "library/asyncio-task.html library/asyncio-runner.html",
        "asyncio.run",
    ),
    _q(
        "How do I log messages to a file?",
        "howto/logging.html howto/logging-cookbook.html library/logging.html",
        "filename=",
        "FileHandler",
    ),
    _q("How do I find all matches of a regular expression?", "library/re.html", "findall"),
    _q(
        "How can I measure the execution time of small code snippets?",
        "library/timeit.html",
        "timeit",
    ),
    _q(
        "What is the default encoding of Python source files?",
        "reference/lexical_analysis.html",
        "UTF-8",
    ),
    _q(
        "How do I install a package with pip?",
        "installing/index.html",
        "-m pip install",
    ),
    _q("How do I count how many times each item occurs?", "library/collections.html", "Counter"),
    _q(
        "How do I create tuple subclasses with named fields?",
        "library/collections.html",
        "namedtuple",
    ),
    _q(
        "Which module offers classes representing filesystem paths?",
        "library/pathlib.html",
        "pathlib",
        "Path",
    ),
    _q("How do I read a CSV file?", "library/csv.html", "csv.reader", "reader("),
    _q(
        "How do I open a connection to an SQLite database?",
        "library/sqlite3.html",
        "sqlite3.connect",
        "connect(",
    ),
    _q(
        "How large can a Python integer be?",
        "library/stdtypes.html reference/datamodel.html",
        "unlimited",
    ),
    _q(
        "How do I create a temporary directory?",
        "library/tempfile.html",
        "TemporaryDirectory",
        "mkdtemp",
    ),
    _q(
        "How do I read environment variables?",
        "library/os.html",
        "environ",
        "getenv",
    ),
    _q(
        "What do the is and is not operators test?",
        "reference/expressions.html library/stdtypes.html",
        "identity",
    ),
    _q(
        "How do I write unit tests with unittest?",
        "library/unittest.html",
        "TestCase",
    ),
    _q(
        "How do I create an abstract base class?",
        "library/abc.html glossary.html",
        "ABCMeta",
        "ABC",
    ),
    _q(
        "What does functools.lru_cache do?",
        "library/functools.html",
        "memoiz",
        "cache",
    ),
    _q(
        "How do I serialize Python objects with pickle?",
        "library/pickle.html",
        "dump",
    ),
    _q(
        "How do I send an email with smtplib?",
        "library/smtplib.html library/email.examples.html",
        "SMTP",
    ),
    _q(
        "How do I copy a file?",
        "library/shutil.html",
        "copyfile",
        "shutil.copy",
        "copy2",
    ),
    _q(
        "How do I get the current date and time?",
        "library/datetime.html",
        "now(",
        ".now",
    ),
    _q(
        "How do I start a new thread?",
        "library/threading.html",
        "start()",
        "Thread",
    ),
    _q(
        "How do I compress a file with gzip?",
        "library/gzip.html",
        "gzip.open",
        "compress",
    ),
    _q(
        "How do I convert a Python object to a JSON string?",
        "library/json.html",
        "dumps",
    ),
    _q(
        "What is the structural pattern matching statement?",
        "reference/compound_stmts.html tutorial/controlflow.html whatsnew/3.10.html",
        "match",
    ),
    _q(
        "How much faster is Python 3.11 than 3.10?",
        "whatsnew/3.11.html",
        "10-60%",
        "1.25x",
    ),
    _q(
        "How do I iterate over several iterables in parallel?",
        "library/functions.html",
        "zip",
    ),
    _q(
        "How do I create a deep copy of an object?",
        "library/copy.html",
        "deepcopy",
    ),
    _q(
        "What does the Zen of Python list?",
        "glossary.html",
        "import this",
        "design principles",
    ),
)

UNANSWERABLE: tuple[str, ...] = (
    "What is the refund policy?",
    "How much does the premium subscription cost per month?",
    "What are your customer support phone hours?",
    "Do you ship internationally?",
    "What is the weather forecast for tomorrow in Paris?",
    "Who won the 2018 FIFA World Cup?",
    "How do I cancel my order?",
    "What is the recipe for chocolate chip cookies?",
    "Where is the company's head office?",
    "How many vacation days do employees get?",
    "Can I get a discount for students?",
    "What is the return window for damaged items?",
)
