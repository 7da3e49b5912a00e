"""Visitor questions for a small seaside guesthouse's website (`bench/sites/guesthouse`).

The site is that of Marram House, a fictional seven-room bed and breakfast on the seafront of
Skelby Bay, a village on the North Yorkshire coast: a home page and fourteen short pages (rooms
with a room table and a table of nightly rates by season, breakfast, check-in and check-out,
booking and cancellation with a table, parking and getting here, dogs, accessibility, the local
area, special offers, FAQ as collapsible question-and-answer pairs, contact, gift vouchers,
terms, privacy). Every page repeats the same top bar, header, menu and footer (address, phone,
links), as a real small business's site does. Many facts live only in a table or a list, and
some FAQ answers are as short as "Yes, on request." or "Sorry, no.".

The questions are typed as a guest types into a chat box on a phone: lowercase, shorthand
("brekkie", "amex", "u"), misspellings, the guest's own situation rather than the page's
words, a few with two questions in one. Site and questions were written in one go by a helper
blind to the product's answering and retrieval code and to every benchmark result, so the
whole set is `fresh`: nobody tunes on it or reads its answers. Pages are paths relative to
`SITE_ROOT`, which is relative to the repository root; see `bench.questions` for what the
fields mean.
"""

from __future__ import annotations

from bench.questions import Question, QuestionSet, f, uf

SITE_ROOT = "bench/sites/guesthouse"

ANSWERABLE: tuple[Question, ...] = (
    # --- breakfast ---
    f("wat time is brekfast", "breakfast.html", "8am", "9.30am"),
    f("brekkie times sunday?", "breakfast.html", "8.30am", "10am"),
    f("im vegan can u do me a cooked breakfast", "breakfast.html", "plant-based"),
    f(
        "my lad has a nut allergy is the breakfast safe for him",
        "breakfast.html",
        "not a nut-free kitchen",
    ),
    f(
        "got an early train home on the last day, can we get anything to eat before 7",
        "breakfast.html",
        "continental breakfast tray",
    ),
    f("do you do pack lunches for walking? how much", "breakfast.html", "£9.50"),
    f(
        "can we get an evening meal there or do we have to go out",
        "breakfast.html faq.html",
        "don't serve evening meals",
    ),
    # --- rooms and rates (the room table and the rates table) ---
    f("how much is the room with the balcony in july", "rooms.html", "£150"),
    f("price for a sea view room in may", "rooms.html", "£145", "£125"),
    f(
        "family of 4, kids are 9 and 12, how much a night in august",
        "rooms.html",
        "£160",
        "£25",
    ),
    f("is the single room ensuite", "rooms.html", "across the landing"),
    f("which rooms have a bath not just a shower", "rooms.html faq.html", "The Lookout"),
    f("travelling alone, is a double cheaper for 1 person", "rooms.html", "£15 less"),
    f(
        "r prices cheaper in september or is it still peak",
        "rooms.html",
        "mid season",
        "1 September",
    ),
    f("just 1 night on a saturday in august possible?", "rooms.html faq.html", "two nights"),
    # --- check-in and check-out ---
    f("check in and check out times?", "arrival.html terms.html", "3pm", "10.30am"),
    f("we wont get there til about 10pm is that ok", "arrival.html", "key safe", "midnight"),
    f("late checkout? how much", "arrival.html", "12 noon", "£15"),
    # --- booking, deposit and cancellation ---
    f("cancel booking refund?", "booking.html terms.html", "28 days"),
    f(
        "need to cancel 2 weeks before we come, do i lose my deposit",
        "booking.html terms.html",
        "within 12 months",
    ),
    f("do u take amex", "booking.html faq.html", "American Express"),
    f(
        "booking 4 rooms for a family get together, same deposit?",
        "booking.html terms.html",
        "50%",
    ),
    f("forecast is awful, can i get my money back", "booking.html", "bad weather"),
    # --- parking and getting here ---
    f(
        "is there parking? and whats the earliest we can check in",
        "getting-here.html arrival.html index.html",
        "five off-road spaces",
        "3pm",
    ),
    f(
        "can i charge my electric car there",
        "getting-here.html",
        "don't have an EV charger",
        "Harbour Top",
    ),
    f(
        "coming by train with heavy cases, can someone pick us up",
        "getting-here.html",
        "collect you from the station",
    ),
    # --- dogs ---
    f("can i bring my dog", "dogs.html index.html rooms.html", "Cobble", "£15 per dog"),
    f("can the dog come in to breakfast with us", "dogs.html", "conservatory"),
    f(
        "ok to leave the dog in the room while we go out for tea",
        "dogs.html terms.html",
        "left alone",
        "unattended",
    ),
    f("which beach can the dog go on in summer", "dogs.html local-area.html", "North Beach"),
    f("can we bring our cat", "dogs.html", "only accept dogs"),
    # --- accessibility ---
    f("is there a lift to the top floor", "accessibility.html", "no lift"),
    f(
        "my mum is in a wheelchair have u got a room she could manage",
        "accessibility.html rooms.html index.html",
        "The Boathouse",
        "wet room",
    ),
    f("where can dad charge his mobility scooter overnight", "accessibility.html", "conservatory"),
    # --- local area ---
    f(
        "any good places to eat nearby",
        "local-area.html",
        "The Anchor Inn",
        "The Salt Loft",
        "Marino's",
    ),
    f("whats there to do if it rains", "local-area.html", "Lifeboat Station", "Fossil House"),
    # --- FAQ (collapsible answers, some of them a few words) ---
    f("are kids allowed? mine are 6 and 10", "faq.html", "aged 8 and over"),
    f("can i vape in my room", "faq.html terms.html", "e-cigarettes"),
    f("r u open in january", "faq.html index.html", "4 January", "5 February"),
    f("its our anniversary could you put some bubbly in the room", "faq.html", "prosecco", "£30"),
    # --- gift vouchers and offers ---
    f(
        "do u sell gift vouchers? how do i get one",
        "gift-vouchers.html",
        "can't sell vouchers online",
        "£25",
    ),
    f("how long does a gift voucher last", "gift-vouchers.html", "12 months"),
    f("any deals in winter", "offers.html", "third night free"),
    # --- contact, privacy, terms ---
    f("whats martins mobile number, were lost", "contact.html", "07700 900 412"),
    f("how long do u keep the cctv footage", "privacy.html", "30 days"),
    f("left my phone charger in the room, what happens now", "terms.html", "3 months"),
)

UNANSWERABLE: tuple[Question, ...] = (
    uf("do you have a pool or a hot tub"),
    uf("is there air con in the rooms, gets so hot in summer"),
    uf("can we have our wedding reception at yours"),
    uf("do u have a hearing loop"),
    uf("whats the nearest airport and how do i get to you from there"),
    uf("are you hiring for the summer? looking for work"),
    uf("do you give a discount for nhs staff"),
    uf("are there lifeguards on the beach in august"),
    uf("is there a cash machine near you"),
    uf("do u do room service"),
    uf("where can i hire bikes near you"),
    uf("what time is high tide tomorrow"),
)

GUESTHOUSE = QuestionSet(
    name="guesthouse-visitors",
    site_root=SITE_ROOT,
    questions=ANSWERABLE + UNANSWERABLE,
)
