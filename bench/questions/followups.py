"""Two-turn chat conversations for the three small sites: a first question, then a next message.

Each conversation is how a visitor chats with a site's chat box: a first question the site
answers on its own (`first`), then the next message as typed (`text`). Three kinds:

- true follow-ups (10 per site): `text` is elliptical or uses a pronoun and only makes sense
  read together with `first` ("how much for an electric one?", "does it hurt");
- topic changes (about 3 per site): `text` is a complete new question on another subject of the
  same site, answerable on its own ("ok thanks. where do i park?");
- unanswerable follow-ups (1-2 per site): `text` asks a detail the site never gives; the right
  reply is the chatbot's fallback.

For an answerable `text`, `pages` names every page (relative to the site's folder under
`bench/sites/`) that answers it in context, any one of which is a correct source, and `phrases`
holds 1-2 short strings present verbatim (case-insensitive, after stripping tags and collapsing
whitespace) in an answering page; a correct answer is expected to contain at least one of them.
An unanswerable `text` has no pages and no phrases. About 40% are split off as `"holdout"`,
spread across sites and kinds, chosen before any tuning; tune on `"tune"` only.

Written blind by a helper session, in one go: from the sites' HTML and the format in
`bench/questions/__init__.py` only, without reading the chatbot's code, the other question sets,
or any benchmark output.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FollowUp:
    site: str  # "helpcenter" | "bikeshop" | "clinic"
    first: str  # the visitor's first question (answerable by the site on its own)
    text: str  # the visitor's next message, as typed
    pages: tuple[str, ...]  # pages answering `text` in context; () if the site cannot answer it
    phrases: tuple[str, ...]  # 1-2 key phrases verbatim from an answering page; () if unanswerable
    split: str  # "tune" or "holdout"; "fresh" for TOPIC_SWITCHES (written blind, never tuned on)


FOLLOW_UPS: tuple[FollowUp, ...] = (
    # --- helpcenter (meal kits): follow-ups ---
    FollowUp(
        "helpcenter",
        "how much is a box for 2 people with 3 meals a week",
        "and for 4 people?",
        ("plans.html",),
        ("£47.88",),
        "tune",
    ),
    FollowUp(
        "helpcenter",
        "how much do you charge for delivery",
        "is it ever free",
        ("plans.html",),
        ("16 or more servings",),
        "holdout",
    ),
    FollowUp(
        "helpcenter",
        "can i skip a week",
        "how far ahead can i do that",
        ("manage.html",),
        ("eight weeks",),
        "tune",
    ),
    FollowUp(
        "helpcenter",
        "what days do u deliver",
        "what time tho",
        ("delivery.html",),
        ("8am and 8pm", "one-hour arrival window"),
        "tune",
    ),
    FollowUp(
        "helpcenter",
        "do you have vegan meals",
        "how many each week",
        ("allergens.html",),
        ("at least three",),
        "holdout",
    ),
    FollowUp(
        "helpcenter",
        "i forgot my password how do i reset it",
        "how long is the link good for",
        ("account.html",),
        ("60 minutes",),
        "tune",
    ),
    FollowUp(
        "helpcenter",
        "whats the phone number for customer service",
        "are you open sundays",
        ("contact.html",),
        ("10am to 4pm", "live chat only"),
        "holdout",
    ),
    FollowUp(
        "helpcenter",
        "do you sell gift cards",
        "do they expire",
        ("payments.html",),
        ("24 months",),
        "tune",
    ),
    FollowUp(
        "helpcenter",
        "my box was missing the chicken what do i do",
        "do i get my money back or just credit",
        ("problems.html",),
        ("Copperpot credit", "5 to 10 working days"),
        "tune",
    ),
    FollowUp(
        "helpcenter",
        "can i pause my subscripton",
        "for how long max",
        ("manage.html",),
        ("12 weeks",),
        "holdout",
    ),
    # --- helpcenter: topic changes ---
    FollowUp(
        "helpcenter",
        "what cards do you take",
        "ok thanks. how long does the fish keep in the fridge",
        ("storage.html",),
        ("within 2 days",),
        "tune",
    ),
    FollowUp(
        "helpcenter",
        "whats the deadline to change my box",
        "cool. is your meat halal?",
        ("allergens.html",),
        ("not halal",),
        "holdout",
    ),
    FollowUp(
        "helpcenter",
        "how do i cancel",
        "ok. different thing, my mum has bad eyesight, can she get bigger print recipe cards",
        ("accessibility.html",),
        ("18-point", "no extra cost"),
        "tune",
    ),
    # --- helpcenter: unanswerable ---
    FollowUp(
        "helpcenter",
        "how much is the dessert add on",
        "what flavours are there",
        (),
        (),
        "holdout",
    ),
    FollowUp(
        "helpcenter",
        "can i freeze the meat if i cant cook it in time",
        "how long can it stay in the freezer",
        (),
        (),
        "tune",
    ),
    # --- bikeshop (bicycle repair): follow-ups ---
    FollowUp(
        "bikeshop",
        "how much to hire a bike for a day",
        "how much for an electric one?",
        ("rentals.html",),
        ("£40 per day",),
        "tune",
    ),
    FollowUp(
        "bikeshop",
        "do you rent bikes out",
        "and is a helmet included",
        ("rentals.html",),
        ("helmet and lock",),
        "holdout",
    ),
    FollowUp(
        "bikeshop",
        "what time do you open on tuesday",
        "what about on saturdays",
        ("hours.html",),
        ("9am to 5pm",),
        "tune",
    ),
    FollowUp(
        "bikeshop",
        "how much is a puncture repair",
        "can i wait for it",
        ("services.html", "faq.html"),
        ("20 minutes", "free coffee"),
        "holdout",
    ),
    FollowUp(
        "bikeshop",
        "whats included in the silver service",
        "how long does that take",
        ("faq.html", "index.html"),
        ("before 11am",),
        "tune",
    ),
    FollowUp(
        "bikeshop",
        "when is the beginers maintenance class",
        "how much is it",
        ("classes.html",),
        ("£35",),
        "tune",
    ),
    FollowUp(
        "bikeshop",
        "how much is a city bike to rent",
        "can i get a seat on it for my toddler",
        ("rentals.html",),
        ("£5 per day",),
        "holdout",
    ),
    FollowUp(
        "bikeshop",
        "my ebike battery is dead can you fix it",
        "how long will that take then",
        ("services.html",),
        ("three to four weeks",),
        "tune",
    ),
    FollowUp(
        "bikeshop",
        "do you do bike fits",
        "who does them",
        ("team.html",),
        ("Megan Lloyd",),
        "holdout",
    ),
    FollowUp(
        "bikeshop",
        "can you pick my bike up from my house",
        "whats the charge for that",
        ("services.html", "prices.html"),
        ("£15",),
        "tune",
    ),
    # --- bikeshop: topic changes ---
    FollowUp(
        "bikeshop",
        "will you fix a bike i got off the internet",
        "ok great, where can i park",
        ("hours.html",),
        ("two customer parking bays", "free for the first hour"),
        "tune",
    ),
    FollowUp(
        "bikeshop",
        "how much is a gold service",
        "btw do you take apple pay",
        ("faq.html",),
        ("Apple Pay",),
        "holdout",
    ),
    FollowUp(
        "bikeshop",
        "are you open mondays",
        "thanks. if something you fixed goes wrong again do i have to pay",
        ("warranty.html",),
        ("90 days",),
        "tune",
    ),
    FollowUp(
        "bikeshop",
        "how much for a brake bleed",
        "ok. can i buy a new bike from you?",
        ("faq.html",),
        ("refurbished",),
        "tune",
    ),
    # --- bikeshop: unanswerable ---
    FollowUp(
        "bikeshop",
        "do you rent electric bikes",
        "whats the range on them",
        (),
        (),
        "holdout",
    ),
    # --- clinic (dental practice): follow-ups ---
    FollowUp(
        "clinic",
        "how much is a white filling on a back tooth",
        "does it hurt",
        ("faq.html",),
        ("local anaesthetic", "shouldn't feel pain"),
        "tune",
    ),
    FollowUp(
        "clinic",
        "how much is a root canal on a molar",
        "how long does that take",
        ("treatments.html",),
        ("60 to 90 minutes",),
        "holdout",
    ),
    FollowUp(
        "clinic",
        "are you open saturday",
        "can nhs patients come then",
        ("opening-hours.html",),
        ("emergencies only",),
        "tune",
    ),
    FollowUp(
        "clinic",
        "are you taking new nhs patients",
        "how long is the waiting list",
        ("new-patients.html",),
        ("9 to 12 months",),
        "holdout",
    ),
    FollowUp(
        "clinic",
        "how much is the care plan per month",
        "and for my son hes 8",
        ("care-plan.html",),
        ("£6.50",),
        "tune",
    ),
    FollowUp(
        "clinic",
        "do you do teeth whitening",
        "how many weeks is the treatment",
        ("treatments.html",),
        ("2 to 3 weeks",),
        "tune",
    ),
    FollowUp(
        "clinic",
        "whats the number to call for an emergency",
        "and if its the weekend?",
        ("emergency.html", "opening-hours.html"),
        ("NHS 111", "07700 900318"),
        "holdout",
    ),
    FollowUp(
        "clinic",
        "do you do implants",
        "how much roughly",
        ("prices.html", "payment.html"),
        ("£2,600",),
        "tune",
    ),
    FollowUp(
        "clinic",
        "can i bring my 5 year old for a check up",
        "do i have to come in with her",
        ("children.html",),
        ("under 16",),
        "holdout",
    ),
    FollowUp(
        "clinic",
        "my denture snapped can you fix it",
        "how much will that be",
        ("prices.html",),
        ("£75",),
        "tune",
    ),
    # --- clinic: topic changes ---
    FollowUp(
        "clinic",
        "how much is a check up",
        "ok thanks. where do i park?",
        ("find-us.html",),
        ("Harbour Road",),
        "holdout",
    ),
    FollowUp(
        "clinic",
        "do you take american express",
        "ok. is there wifi in the waiting room",
        ("faq.html",),
        ("Harbourside-Guest",),
        "tune",
    ),
    FollowUp(
        "clinic",
        "how do i register as a new patient",
        "thanks. unrelated but whats the fee if you miss an appointment",
        ("cancellations.html",),
        ("£40", "No fee"),
        "holdout",
    ),
    # --- clinic: unanswerable ---
    FollowUp(
        "clinic",
        "do you do clear aligners",
        "what brand are they, invisalign?",
        (),
        (),
        "tune",
    ),
    FollowUp(
        "clinic",
        "is there parking near you",
        "how much is it per hour there",
        (),
        (),
        "tune",
    ),
)


# Topic switches: two-turn conversations where the visitor's second message is a complete new
# question on a different subject from the first, typed bare the way visitors switch topic in a
# chat box (no "ok thanks", "different question" or "btw" to mark the switch), often short and
# informal. Per site: 6 where `text` is answerable by the site on its own (`pages`, `phrases` as
# above) and 4 where the site cannot answer `text` at all (`pages=()`, `phrases=()`; the right
# reply is the chatbot's fallback). Every `first` is answerable by the site on its own. Written
# blind by a helper session from the sites' HTML only, after a stranger found topic switches
# answered from the previous subject (session 12); split "fresh": not for tuning.
TOPIC_SWITCHES: tuple[FollowUp, ...] = (
    # --- helpcenter (meal kits): answerable switches ---
    FollowUp(
        "helpcenter",
        "how do i change the email address on my account",
        "what days do you deliver, do u do sundays",
        ("delivery.html",),
        ("between Tuesday and Saturday",),
        "fresh",
    ),
    FollowUp(
        "helpcenter",
        "I forgot my password, how do I reset it?",
        "are the portions big enough for a grown man",
        ("faq.html",),
        ("550 to 800 kcal", "main meal for one adult"),
        "fresh",
    ),
    FollowUp(
        "helpcenter",
        "whats the cut off for changing my box",
        "can i just come and collect it from your warehouse",
        ("contact.html",),
        ("there is no shop", "can't offer collection of boxes"),
        "fresh",
    ),
    FollowUp(
        "helpcenter",
        "how much is delivery",
        "is there anything gluten free my son has coeliac",
        ("allergens.html",),
        ("not certified gluten-free", "coeliac disease"),
        "fresh",
    ),
    FollowUp(
        "helpcenter",
        "do you have vegetarian recipes",
        "how do i get rid of the ice packs",
        ("storage.html",),
        ("cut a corner", "general waste"),
        "fresh",
    ),
    FollowUp(
        "helpcenter",
        "how do I cancel my plan",
        "do i get anything if my sister signs up",
        ("payments.html",),
        ("£20 credit", "£30 off"),
        "fresh",
    ),
    # --- helpcenter: unanswerable switches ---
    FollowUp(
        "helpcenter",
        "how much is the breakfast bundle",
        "do you do wine pairings with the meals",
        (),
        (),
        "fresh",
    ),
    FollowUp(
        "helpcenter",
        "can I swap the chicken for tofu",
        "are ur eggs free range",
        (),
        (),
        "fresh",
    ),
    FollowUp(
        "helpcenter",
        "whats your customer service phone number",
        "is there a student discount",
        (),
        (),
        "fresh",
    ),
    FollowUp(
        "helpcenter",
        "how long does the fish keep in the fridge",
        "do u have an app for iphone",
        (),
        (),
        "fresh",
    ),
    # --- bikeshop (bicycle repair): answerable switches ---
    FollowUp(
        "bikeshop",
        "how much is a puncture repair",
        "can I bring my dog",
        ("faq.html",),
        ("on a lead",),
        "fresh",
    ),
    FollowUp(
        "bikeshop",
        "do you service ebikes",
        "r u open sundays",
        ("hours.html",),
        ("10am to 2pm", "no repairs"),
        "fresh",
    ),
    FollowUp(
        "bikeshop",
        "how much to hire a city bike for a week",
        "any discount for nhs staff?",
        ("prices.html",),
        ("10% off labour",),
        "fresh",
    ),
    FollowUp(
        "bikeshop",
        "what do you do in a bronze service",
        "are you hiring at the moment",
        ("careers.html",),
        ("part-time workshop assistant", "£13.50 per hour"),
        "fresh",
    ),
    FollowUp(
        "bikeshop",
        "when r the maintenance classes on",
        "how far are you from the train station",
        ("hours.html",),
        ("7 minute walk",),
        "fresh",
    ),
    FollowUp(
        "bikeshop",
        "can you build me a custom wheel",
        "do you buy old bikes",
        ("faq.html",),
        ("do not buy bikes for cash", "part-exchanges"),
        "fresh",
    ),
    # --- bikeshop: unanswerable switches ---
    FollowUp(
        "bikeshop",
        "how much is brake pad replacement",
        "do u fix electric scooters",
        (),
        (),
        "fresh",
    ),
    FollowUp(
        "bikeshop",
        "do you do cycle to work",
        "have you got tandems to hire",
        (),
        (),
        "fresh",
    ),
    FollowUp(
        "bikeshop",
        "whats your whatsapp number",
        "do you sell gift vouchers",
        (),
        (),
        "fresh",
    ),
    FollowUp(
        "bikeshop",
        "how long does a bike fit take",
        "do you run any group rides",
        (),
        (),
        "fresh",
    ),
    # --- clinic (dental practice): answerable switches ---
    FollowUp(
        "clinic",
        "how much is a check up",
        "do you do botox",
        ("faq.html",),
        ("don't offer facial aesthetics",),
        "fresh",
    ),
    FollowUp(
        "clinic",
        "are you taking on nhs patients",
        "whats the nearest train station",
        ("find-us.html",),
        ("Saltmouth railway station", "12-minute walk"),
        "fresh",
    ),
    FollowUp(
        "clinic",
        "do you do root canals",
        "can you bill my insurance company directly",
        ("care-plan.html",),
        ("can't bill insurance companies directly", "claim form"),
        "fresh",
    ),
    FollowUp(
        "clinic",
        "how much is teeth whitening",
        "im terrified of dentists can i be put to sleep",
        ("faq.html",),
        ("Community Dental Service", "don't offer sedation"),
        "fresh",
    ),
    FollowUp(
        "clinic",
        "what's your email address?",
        "when should my baby first see a dentist",
        ("children.html",),
        ("first birthday", "first teeth appear"),
        "fresh",
    ),
    FollowUp(
        "clinic",
        "are you open late any evenings",
        "is there step free access my dad is in a wheelchair",
        ("find-us.html",),
        ("step-free entrance", "ramp"),
        "fresh",
    ),
    # --- clinic: unanswerable switches ---
    FollowUp(
        "clinic",
        "how much is a hygienist appointment",
        "do you do a student discount",
        (),
        (),
        "fresh",
    ),
    FollowUp(
        "clinic",
        "whats the emergency number when ur closed",
        "can u make me something to stop snoring",
        (),
        (),
        "fresh",
    ),
    FollowUp(
        "clinic",
        "do you do composite bonding",
        "do you sell gift vouchers",
        (),
        (),
        "fresh",
    ),
    FollowUp(
        "clinic",
        "how long does a new patient exam take",
        "do u do tooth gems",
        (),
        (),
        "fresh",
    ),
)
