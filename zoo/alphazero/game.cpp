// Tic-tac-toe and Connect Four rules on bitboards (see game.h for the layout).
#include "zoo/alphazero/game.h"

#include <bit>

#include "tensor/error.h"

namespace ember::zoo::alphazero {

namespace {
constexpr GameInfo kTicTacToe{GameKind::tictactoe, "tictactoe", 3, 3, 9};
constexpr GameInfo kConnect4{GameKind::connect4, "connect4", c4::kRows, c4::kCols, c4::kCols};
// The eight lines of tic-tac-toe (bits 3r+c).
constexpr uint16_t kTttLines[8] = {0007, 0070, 0700, 0111, 0222, 0444, 0421, 0124};
}  // namespace

const GameInfo& game_info(GameKind kind) { return kind == GameKind::tictactoe ? kTicTacToe : kConnect4; }

GameKind parse_game(const std::string& name) {
  if (name == "tictactoe") return GameKind::tictactoe;
  if (name == "connect4") return GameKind::connect4;
  EMBER_CHECK(false, "alphazero: unknown game '{}' (expected connect4 or tictactoe)", name);
  return GameKind::connect4;
}

namespace c4 {
bool has_four(uint64_t p) {
  for (int s : {1, kHeight, kHeight - 1, kHeight + 1}) {
    const uint64_t m = p & (p >> s);
    if (m & (m >> (2 * s))) return true;
  }
  return false;
}

uint64_t winning_cells(uint64_t p, uint64_t mask) {
  uint64_t r = (p << 1) & (p << 2) & (p << 3);  // three stacked below
  for (int s : {kHeight, kHeight - 1, kHeight + 1}) {
    uint64_t two = (p << s) & (p << (2 * s));  // stones at x-s and x-2s
    r |= two & (p << (3 * s));
    r |= two & (p >> s);
    two = (p >> s) & (p >> (2 * s));  // stones at x+s and x+2s
    r |= two & (p >> (3 * s));
    r |= two & (p << s);
  }
  return r & (board_bits() ^ mask);
}
}  // namespace c4

bool State::has_line(GameKind kind, uint64_t stones) {
  if (kind == GameKind::connect4) return c4::has_four(stones);
  for (uint16_t line : kTttLines)
    if ((stones & line) == line) return true;
  return false;
}

State State::from_moves(GameKind kind, const std::string& moves) {
  State s(kind);
  for (char ch : moves) {
    const int a = ch - '1';
    EMBER_CHECK(a >= 0 && a < s.info().actions, "play: bad move '{}' in '{}' ({} moves are 1..{})", ch, moves,
                s.info().name, s.info().actions);
    s.play(a);
  }
  return s;
}

bool State::is_legal(int action) const {
  if (action < 0 || action >= info().actions || is_terminal()) return false;
  if (kind_ == GameKind::connect4) return (mask_ & c4::top_bit(action)) == 0;
  return ((mask_ >> action) & 1) == 0;
}

uint32_t State::legal_mask() const {
  if (is_terminal()) return 0;
  uint32_t m = 0;
  if (kind_ == GameKind::connect4) {
    for (int c = 0; c < c4::kCols; ++c)
      if (!(mask_ & c4::top_bit(c))) m |= 1u << c;
  } else {
    m = ~static_cast<uint32_t>(mask_) & 0x1ff;
  }
  return m;
}

std::vector<int> State::legal_actions() const {
  std::vector<int> out;
  for (uint32_t m = legal_mask(); m; m &= m - 1) out.push_back(std::countr_zero(m));
  return out;
}

void State::play(int action) {
  EMBER_CHECK(!is_terminal(), "play: illegal move {} ({} game is already over)", action + 1, info().name);
  EMBER_CHECK(action >= 0 && action < info().actions, "play: illegal move {} ({} moves are 1..{})", action + 1,
              info().name, info().actions);
  EMBER_CHECK(is_legal(action), "play: illegal move {} ({} {} is full)", action + 1, info().name,
              kind_ == GameKind::connect4 ? "column" : "cell");
  play_unchecked(action);
}

void State::play_unchecked(int action) {
  const uint64_t bit = kind_ == GameKind::connect4 ? (mask_ + c4::bottom_bit(action)) & c4::column_bits(action)
                                                    : uint64_t{1} << action;
  const uint64_t mine = cur_ | bit;
  won_ = has_line(kind_, mine);
  mask_ |= bit;
  cur_ = mine ^ mask_;  // the opponent moves next
  ++moves_;
}

bool State::wins_with(int action) const {
  if (!is_legal(action)) return false;
  if (kind_ == GameKind::connect4)
    return (c4::winning_cells(cur_, mask_) & (mask_ + c4::bottom_bit(action)) & c4::column_bits(action)) != 0;
  return has_line(kind_, cur_ | (uint64_t{1} << action));
}

uint64_t State::bit_of(int r_top, int c) const {
  if (kind_ == GameKind::connect4) return uint64_t{1} << (c4::kHeight * c + (c4::kRows - 1 - r_top));
  return uint64_t{1} << (3 * r_top + c);
}

int State::stone_at(int r, int c) const {
  const uint64_t b = bit_of(r, c);
  if (!(mask_ & b)) return 0;
  const bool first_to_move = moves_ % 2 == 0;
  const bool is_cur = (cur_ & b) != 0;
  return is_cur == first_to_move ? 1 : 2;
}

void State::write_planes(float* planes) const {
  const int rows = info().rows, cols = info().cols, hw = rows * cols;
  const float side = moves_ % 2 == 0 ? 1.f : 0.f;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const uint64_t b = bit_of(r, c);
      const int i = r * cols + c;
      planes[i] = (cur_ & b) ? 1.f : 0.f;
      planes[hw + i] = ((cur_ ^ mask_) & b) ? 1.f : 0.f;
      planes[2 * hw + i] = side;
    }
}

int State::mirror_action(int a) const {
  if (kind_ == GameKind::connect4) return c4::kCols - 1 - a;
  return (a / 3) * 3 + (2 - a % 3);
}

State State::mirrored() const {
  State m = *this;
  m.cur_ = m.mask_ = 0;
  const int rows = info().rows, cols = info().cols;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const uint64_t from = bit_of(r, c), to = bit_of(r, cols - 1 - c);
      if (mask_ & from) m.mask_ |= to;
      if (cur_ & from) m.cur_ |= to;
    }
  return m;
}

uint64_t State::key() const {
  if (kind_ == GameKind::connect4) return cur_ + mask_ + c4::bottom_row();
  return cur_ | ((cur_ ^ mask_) << 9);
}

std::string State::to_string() const {
  const int rows = info().rows, cols = info().cols;
  std::string s;
  for (int r = 0; r < rows; ++r) {
    s += "|";
    for (int c = 0; c < cols; ++c) {
      const int st = stone_at(r, c);
      s += ' ';
      s += st == 0 ? (kind_ == GameKind::connect4 ? '.' : static_cast<char>('1' + 3 * r + c)) : (st == 1 ? 'X' : 'O');
    }
    s += " |\n";
  }
  if (kind_ == GameKind::connect4) {
    s += "+";
    for (int c = 0; c < cols; ++c) s += "--";
    s += "-+\n ";
    for (int c = 0; c < cols; ++c) {
      s += ' ';
      s += static_cast<char>('1' + c);
    }
    s += "\n";
  }
  return s;
}

}  // namespace ember::zoo::alphazero
